"""Dataset layouts -> sources (`prepare.Source`): where each layout keeps its frames and labels.

* Cityscapes (and the built-in benchmark): snippets of `leftImg8bit_sequence/` with `gtFine/`
  labels (`find_cityscapes_sources`; `labelled_frames` reads its labelled frames);
* CamVid, SegNet's split (`find_camvid_sources`): with the 30 Hz recordings, or as SegNet's
  copy ships (its 15 Hz val run as a video, its 1 Hz stills as single frames); and a user's
  `labelled_video` tree (`find_labelled_video_sources`): one source per video, a window of
  `num_frames` frames ending at each labelled frame;
* unlabelled videos: a folder (`find_video_sources`; a folder of numbered frames is one video)
  or explicit paths (`video_sources_from_paths`).

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
from tw_keras.data.label_files import read_label
from tw_keras.data.prepare import Source, VideoError
from tw_keras.errors import InputError, LabelError
from tw_keras.video import sources

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
    raise InputError(image_dir, "no such directory (expected Cityscapes leftImg8bit_sequence layout)")
  groups = collections.defaultdict(dict)
  for path in sorted(glob.glob(os.path.join(image_dir, "*", "*_leftImg8bit.png"))):
    m = _FRAME_RE.match(os.path.basename(path))
    if m:
      groups[(m["city"], int(m["seq"]))][int(m["frame"])] = path
  if not groups:
    raise InputError(image_dir, "no *_leftImg8bit.png frames found")
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
  """SegNet's CamVid layout, with or without the 30 Hz recordings::

    ROOT/{split}annot/{seq}_{n}.png    index labels (0..10, 11 = void); n = the frame's number
    ROOT/{split}/{seq}_{n}.png         the labelled frames themselves (SegNet's copy, 480x360)
    ROOT/videos/{seq}.{ext}            optional: the sequence's video (any container FFmpeg reads)

  Where `ROOT/videos/` exists it wins: frame n of a label is frame n + `info.frame_offset(seq)`
  of the video, and each labelled frame becomes one window, the `num_frames` frames ending at
  it; labels (480x360) are resized nearest-neighbour to the video's frames (960x720).

  Without it, SegNet's copy goes in as it is (`frame_sources`): a run of a sequence's labelled
  frames at one fixed step of at most `MAX_VIDEO_STEP` recording frames (the val split's
  0016E5 07959..08159, every second frame: 15 Hz) is that sequence's video, windowed as
  above; any other labelled frame (the 1 Hz stills) is a single-frame sample. Returns
  (sources, labelled frames skipped for too short a history).
  """
  labels_by_seq = _camvid_labels(root, split)
  video_dir = os.path.join(root, "videos")
  if os.path.isdir(video_dir):
    videos = {seq: _video_of(video_dir, seq) for seq in labels_by_seq}
    return _windowed_sources(split, videos, labels_by_seq, info, num_frames)
  image_dir = os.path.join(root, split)
  if not os.path.isdir(image_dir):
    raise InputError(image_dir, "no such directory: SegNet's CamVid keeps the frames in {split}/ "
                     "(or give the 30 Hz recordings in ROOT/videos/)")
  frames_by_seq = {}
  for seq, labels in labels_by_seq.items():
    frames_by_seq[seq] = {}
    for n, label in labels.items():
      image = os.path.join(image_dir, os.path.basename(label))
      if not os.path.isfile(image):
        raise VideoError(image, f"missing: the frame of label {label}")
      frames_by_seq[seq][n] = (image, label)
  return frame_sources(split, frames_by_seq, num_frames)


def camvid_subset(root: str, split: str, count: int, out_root: str, consecutive: bool = False) -> List[str]:
  """A SegNet-layout tree at `out_root` holding `count` labelled frames of `split`, evenly
  spaced in name order (so every sequence has its share), or the first `count` in name order
  (`consecutive`: the start of val's 15 Hz run, a video), as links to `root`'s files: the
  released CamVid weights' check sets, built by the release and by its test alike. Returns
  the frames' names."""
  every = sorted(os.path.basename(p) for p in glob.glob(os.path.join(root, f"{split}annot", "*.png")))
  if len(every) < count:
    raise InputError(os.path.join(root, f"{split}annot"), f"{len(every)} labels, {count} wanted")
  names = every[:count] if consecutive else [every[i * len(every) // count] for i in range(count)]
  for folder in (split, f"{split}annot"):
    os.makedirs(os.path.join(out_root, folder), exist_ok=True)
    for name in names:
      link = os.path.join(out_root, folder, name)
      if not os.path.lexists(link):
        os.symlink(os.path.abspath(os.path.join(root, folder, name)), link)
  return names


def _camvid_labels(root: str, split: str):
  """{sequence: {frame number: label path}} of `ROOT/{split}annot/`."""
  label_dir = os.path.join(root, f"{split}annot")
  if not os.path.isdir(label_dir):
    raise InputError(label_dir, "no such directory (expected CamVid's {split}annot/ layout)")
  labels_by_seq = collections.defaultdict(dict)
  for path in sorted(glob.glob(os.path.join(label_dir, "*.png"))):
    m = _LABEL_RE.match(os.path.basename(path))
    if not m:
      raise LabelError(path, "label name is not {sequence}_{frame number}.png")
    labels_by_seq[m["seq"]][int(m["n"])] = path
  if not labels_by_seq:
    raise InputError(label_dir, "no label PNGs found")
  return labels_by_seq


# Labelled frames at most this many recording frames apart (at one fixed step) are a video:
# 3 at CamVid's 30 Hz is 10 Hz and faster. The 1 Hz stills (step 30) are single frames.
MAX_VIDEO_STEP = 3


def frame_runs(numbers: Sequence[int], max_step: int = MAX_VIDEO_STEP) -> List[List[int]]:
  """Sorted frame numbers cut into maximal runs at one fixed step of at most `max_step`;
  every other number is a run of its own. E.g. [1, 3, 5, 7, 37, 67] -> [[1, 3, 5, 7], [37], [67]]."""
  runs: List[List[int]] = []
  for n in sorted(numbers):
    run = runs[-1] if runs else None
    step = n - run[-1] if run else None
    if run and step <= max_step and (len(run) == 1 or step == run[1] - run[0]):
      run.append(n)
    else:
      runs.append([n])
  return runs


def frame_sources(split: str, frames_by_seq, num_frames: int) -> Tuple[List[Source], int]:
  """Labelled frames without a video -> sources.

  Args:
    frames_by_seq: {sequence: {frame number: (image path, label path)}}.
  Returns:
    (sources, labelled frames skipped): each run of `frame_runs` with at least `num_frames`
    frames is one video Source (its images in order) with a window ending at each labelled
    frame that has `num_frames - 1` frames before it (the run's first frames are skipped);
    each lone frame is a single-frame Source (one I-frame GOP).
  """
  out, skipped = [], 0
  for seq in sorted(frames_by_seq):
    frames = frames_by_seq[seq]
    for run in frame_runs(list(frames)):
      if len(run) == 1 or len(run) < num_frames:
        for n in run:
          image, label = frames[n]
          out.append(Source(f"{split}/{seq}_{n}", images=(image,), labels=(label,), first_index=n))
        continue
      skipped += num_frames - 1
      out.append(Source(f"{split}/{seq}_{run[0]}-{run[-1]}", images=tuple(frames[n][0] for n in run),
                        labels=tuple(frames[n][1] for n in run),
                        windows=tuple((i - num_frames + 1, i) for i in range(num_frames - 1, len(run)))))
  return out, skipped


def find_labelled_video_sources(root: str, split: str, info: dataset_info.DatasetInfo, num_frames: int = 12
                                ) -> Tuple[List[Source], int]:
  """A user's own labelled videos::

    ROOT/{split}/videos/{name}.{ext}               any container FFmpeg reads, or
    ROOT/{split}/videos/{name}/                    a folder of numbered frames
    ROOT/{split}/labels/{name}_{frame:06d}.png     frame = 0-based decoded frame of that video

  Labels are in the descriptor's encoding; each labelled frame with a long enough history
  ends one window (as CamVid's), and every labelled frame inside a window is kept. Returns (sources, labelled frames skipped for too short a history).
  """
  video_dir, label_dir = os.path.join(root, split, "videos"), os.path.join(root, split, "labels")
  for d in (video_dir, label_dir):
    if not os.path.isdir(d):
      raise InputError(d, "no such directory (expected the labelled_video layout: {split}/videos, {split}/labels)")
  videos = {os.path.splitext(os.path.basename(p))[0] if os.path.isfile(p) else os.path.basename(p): p
            for p in sorted(glob.glob(os.path.join(video_dir, "*")))
            if (os.path.isfile(p) or sources.is_frame_folder(p)) and not os.path.basename(p).startswith(".")}
  labels_by_seq = collections.defaultdict(dict)
  for path in sorted(glob.glob(os.path.join(label_dir, "*.png"))):
    m = re.match(r"^(?P<seq>.+)_(?P<n>\d{6})\.png$", os.path.basename(path))
    if not m:
      raise LabelError(path, "label name is not {video name}_{frame:06d}.png")
    if m["seq"] not in videos:
      raise LabelError(path, f"no video {m['seq']}.* in {video_dir} for this label")
    labels_by_seq[m["seq"]][int(m["n"])] = path
  if not labels_by_seq:
    raise InputError(label_dir, "no label PNGs found")
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
    skipped += len(indexed) - len(usable)  # no window ends at them (they may lie inside one)
    if not usable:
      continue
    labels = [None] * (usable[-1] + 1)
    for i in indexed:  # every labelled frame inside a window is scored, as CamVid's runs
      if 0 <= i <= usable[-1]:
        labels[i] = indexed[i]
    out.append(Source(f"{split}/{seq}", video=videos[seq], labels=tuple(labels), first_index=-offset,
                      windows=tuple((i - num_frames + 1, i) for i in usable), resize_labels=True))
  return out, skipped


def find_video_sources(input_dir: str) -> List[Source]:
  """Every (non-hidden) video under `input_dir`, recursively, as an unlabelled source: each
  file, except that a folder holding only image files is one video of numbered frames
  (`sources.frame_folder`; `input_dir` itself too)."""
  if not os.path.isdir(input_dir):
    raise InputError(input_dir, "no such directory")
  out = []
  for directory, subdirs, files in os.walk(input_dir):
    subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
    files = sorted(f for f in files if not f.startswith("."))
    if files and not subdirs and all(f.lower().endswith(sources.IMAGE_EXTENSIONS) for f in files):
      images = tuple(sources.frame_folder(directory))
      out.append(Source(os.path.relpath(directory, input_dir), images=images))
    else:
      out.extend(Source(os.path.relpath(os.path.join(directory, f), input_dir), video=os.path.join(directory, f))
                 for f in files)
  if not out:
    raise InputError(input_dir, "no video files found")
  return sorted(out, key=lambda s: s.sequence_id)


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
