"""Dataset layouts -> sources (`prepare.Source`): where each layout keeps its frames and labels.

* Cityscapes (and the built-in benchmark): snippets of `leftImg8bit_sequence/` with `gtFine/`
  labels (`find_cityscapes_sources`; `labelled_frames` reads its labelled frames);
* CamVid, SegNet's split with the 30 Hz recordings (`find_camvid_sources`), and a user's
  `labelled_video` tree (`find_labelled_video_sources`): one source per video, a window of
  `num_frames` frames ending at each labelled frame;
* unlabelled videos: a folder (`find_video_sources`) or explicit paths (`video_sources_from_paths`).

`data_prep/build_tfrecords.py` documents each layout as a user sees it.
"""

import collections
import glob
import os
import re
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from tw_keras import dataset_info
from tw_keras.data.prepare import Source, VideoError, read_label

_FRAME_RE = re.compile(r"^(?P<city>.+)_(?P<seq>\d{6})_(?P<frame>\d{6})_leftImg8bit\.png$")


def find_cityscapes_sources(root: str, split: str, first_frame: int = 8, num_frames: Optional[int] = 12,
                            annotated_frame: Optional[int] = 19) -> List[Source]:
  """Snippets of `root/leftImg8bit_sequence/{split}` with their `gtFine` labels.

  Frames `first_frame .. first_frame + num_frames - 1` of each snippet (docs/CONVENTIONS.md: 8..19,
  one GOP); `num_frames=None` takes every frame from `first_frame` on. A frame's label is
  `gtFine/{split}/{city}/{stem}_gtFine_labelTrainIds.png`, else `..._labelIds.png`; the
  `annotated_frame` must have one (its absence is reported when the source is processed).
  """
  image_dir = os.path.join(root, "leftImg8bit_sequence", split)
  if not os.path.isdir(image_dir):
    raise VideoError(image_dir, "no such directory (expected Cityscapes leftImg8bit_sequence layout)")
  groups = collections.defaultdict(dict)
  for path in sorted(glob.glob(os.path.join(image_dir, "*", "*_leftImg8bit.png"))):
    m = _FRAME_RE.match(os.path.basename(path))
    if m:
      groups[(m["city"], int(m["seq"]))][int(m["frame"])] = path
  if not groups:
    raise VideoError(image_dir, "no *_leftImg8bit.png frames found")
  sources = []
  for (city, seq), frames in sorted(groups.items()):
    last = max(frames) if num_frames is None else first_frame + num_frames - 1
    wanted = range(first_frame, last + 1)
    missing = [f for f in wanted if f not in frames]
    if missing:
      raise VideoError(os.path.join(image_dir, city),
                       f"snippet {city}_{seq:06d} lacks frame(s) {missing[:5]} of {first_frame}..{last}")
    label_paths = []
    for f in wanted:
      stem = os.path.join(root, "gtFine", split, city, f"{city}_{seq:06d}_{f:06d}_gtFine_")
      found = next((stem + k for k in ("labelTrainIds.png", "labelIds.png") if os.path.exists(stem + k)), None)
      label_paths.append(found or (stem + "labelTrainIds.png" if f == annotated_frame else None))
    sources.append(Source(f"{split}/{city}_{seq:06d}", images=tuple(frames[f] for f in wanted),
                          labels=tuple(label_paths), first_index=first_frame))
  return sources


_LABEL_RE = re.compile(r"^(?P<seq>.+?)_f?(?P<n>\d+)\.png$")  # CamVid: 0001TP_006690, Seq05VD_f00000


def find_camvid_sources(root: str, split: str, info: dataset_info.DatasetInfo, num_frames: int = 12
                        ) -> Tuple[List[Source], int]:
  """SegNet's CamVid layout, paired with the 30 Hz recordings::

    ROOT/{split}annot/{seq}_{n}.png    index labels (0..10, 11 = void); n = the frame's number
    ROOT/videos/{seq}.{ext}            the sequence's video (any container FFmpeg reads)

  Frame n of a label is frame n + `info.frame_offset(seq)` of the video. Each labelled frame
  becomes one window: the `num_frames` frames ending at it. Labels (480x360 in SegNet's
  copy) are resized nearest-neighbour to the video's frames (960x720). Returns (sources,
  labelled frames skipped for too short a history).
  """
  label_dir = os.path.join(root, f"{split}annot")
  if not os.path.isdir(label_dir):
    raise VideoError(label_dir, "no such directory (expected CamVid's {split}annot/ layout)")
  labels_by_seq = collections.defaultdict(dict)
  for path in sorted(glob.glob(os.path.join(label_dir, "*.png"))):
    m = _LABEL_RE.match(os.path.basename(path))
    if not m:
      raise VideoError(path, "label name is not {sequence}_{frame number}.png")
    labels_by_seq[m["seq"]][int(m["n"])] = path
  if not labels_by_seq:
    raise VideoError(label_dir, "no label PNGs found")
  videos = {seq: _video_of(os.path.join(root, "videos"), seq) for seq in labels_by_seq}
  return _windowed_sources(split, videos, labels_by_seq, info, num_frames)


def find_labelled_video_sources(root: str, split: str, info: dataset_info.DatasetInfo, num_frames: int = 12
                                ) -> Tuple[List[Source], int]:
  """A user's own labelled videos::

    ROOT/{split}/videos/{name}.{ext}               any container FFmpeg reads
    ROOT/{split}/labels/{name}_{frame:06d}.png     frame = 0-based decoded frame of that video

  Labels are in the descriptor's encoding; each labelled frame becomes one window (as
  CamVid's). Returns (sources, labelled frames skipped for too short a history).
  """
  video_dir, label_dir = os.path.join(root, split, "videos"), os.path.join(root, split, "labels")
  for d in (video_dir, label_dir):
    if not os.path.isdir(d):
      raise VideoError(d, "no such directory (expected the labelled_video layout: {split}/videos, {split}/labels)")
  videos = {os.path.splitext(os.path.basename(p))[0]: p for p in sorted(glob.glob(os.path.join(video_dir, "*")))
            if os.path.isfile(p) and not os.path.basename(p).startswith(".")}
  labels_by_seq = collections.defaultdict(dict)
  for path in sorted(glob.glob(os.path.join(label_dir, "*.png"))):
    m = re.match(r"^(?P<seq>.+)_(?P<n>\d{6})\.png$", os.path.basename(path))
    if not m:
      raise VideoError(path, "label name is not {video name}_{frame:06d}.png")
    if m["seq"] not in videos:
      raise VideoError(path, f"no video {m['seq']}.* in {video_dir} for this label")
    labels_by_seq[m["seq"]][int(m["n"])] = path
  if not labels_by_seq:
    raise VideoError(label_dir, "no label PNGs found")
  return _windowed_sources(split, videos, labels_by_seq, info, num_frames)


def _video_of(video_dir: str, sequence: str) -> str:
  found = sorted(p for p in glob.glob(os.path.join(video_dir, glob.escape(sequence) + ".*")) if os.path.isfile(p))
  if not found:
    raise VideoError(os.path.join(video_dir, sequence + ".*"), f"no video for sequence {sequence}")
  return found[0]


def _windowed_sources(split, videos, labels_by_seq, info, num_frames):
  """One Source per video: a window of `num_frames` frames ending at each labelled frame."""
  out, skipped = [], 0
  for seq in sorted(labels_by_seq):
    offset = info.frame_offset(seq)
    indexed = {n + offset: path for n, path in labels_by_seq[seq].items()}
    usable = sorted(i for i in indexed if i >= num_frames - 1)
    skipped += len(indexed) - len(usable)
    if not usable:
      continue
    labels = [None] * (usable[-1] + 1)
    for i in usable:
      labels[i] = indexed[i]
    out.append(Source(f"{split}/{seq}", video=videos[seq], labels=tuple(labels), first_index=-offset,
                      windows=tuple((i - num_frames + 1, i) for i in usable), resize_labels=True))
  return out, skipped


def find_video_sources(input_dir: str) -> List[Source]:
  """Every (non-hidden) file under `input_dir`, recursively, as an unlabelled video source."""
  if not os.path.isdir(input_dir):
    raise VideoError(input_dir, "no such directory")
  paths = sorted(p for p in glob.glob(os.path.join(input_dir, "**", "*"), recursive=True)
                 if os.path.isfile(p) and not os.path.basename(p).startswith("."))
  if not paths:
    raise VideoError(input_dir, "no video files found")
  return [Source(os.path.relpath(p, input_dir), video=p) for p in paths]


def video_sources_from_paths(paths: Sequence[str]) -> List[Source]:
  """Video sources from explicit paths or URIs (a file pattern's matches, a list file's
  lines), in sorted order; each sequence id is the path relative to their common directory."""
  paths = sorted(dict.fromkeys(p for p in paths if p))
  if not paths:
    raise ValueError("video_sources_from_paths: no video paths given")
  common = os.path.commonprefix([os.path.dirname(p) + "/" for p in paths])
  common = common[:common.rfind("/") + 1]
  return [Source(p[len(common):], video=p) for p in paths]


def labelled_frames(root: str, split: str, step: int = 1, info: dataset_info.DatasetInfo = dataset_info.SYNTHETIC
                    ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
  """([H, W, 3] RGB uint8, [H, W] trainIds uint8) of every `step`-th frame of each snippet of a
  Cityscapes-layout root's `split` that has a label (frames without one are skipped)."""
  for source in find_cityscapes_sources(root, split, first_frame=0, num_frames=None, annotated_frame=None):
    for image, label in list(zip(source.images, source.labels))[::step]:
      if label is not None:
        bgr = cv2.imread(image, cv2.IMREAD_COLOR)
        if bgr is None:
          raise VideoError(image, "not a readable image")
        yield bgr[..., ::-1], read_label(label, bgr.shape[:2], info)
