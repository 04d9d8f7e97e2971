"""Quick validation during training: the mIoU of a TWNet on the first few GOPs of a split, by
the same protocol as the full evaluation (`distance_protocol.evaluate`), at one key-frame distance."""

from typing import Optional

from tw_keras.data import dataset, flow_sources
from tw_keras.evaluation import metrics, distance_protocol
from tw_keras.model import twnet


def _take(files, n, with_motion=True):
  return dataset.gop_dataset(files, with_motion=with_motion).take(n)


def quick_per_frame_miou(net: twnet.TWNet, files, max_gops: int = 8) -> float:
  """mIoU (%) of the per-frame CNN on the last frame of the first `max_gops` GOPs (of every GOP
  when the split has fewer)."""
  net = net.with_variant("per_frame")
  result = distance_protocol.evaluate({net.name: net}, _take(files, max_gops, with_motion=False), [0])
  return float(metrics.mean_iou(result["confusion"][net.name][0]) * 100)


def quick_nkfc_miou(net: twnet.TWNet, files, distance: int, max_gops: int = 8, flow: str = "codec",
                    flow_root: Optional[str] = None) -> float:
  """mIoU (%) of one variant at one key-frame distance on the first `max_gops` GOPs, its
  non-key frames' motion from `flow` (`flow_sources`)."""
  gops = _take(files, max_gops)
  if flow != "codec":
    gops = flow_sources.WithMotion(gops, flow, flow_root)
  result = distance_protocol.evaluate({net.name: net}, gops, [distance])
  return float(metrics.mean_iou(result["confusion"][net.name][0]) * 100)
