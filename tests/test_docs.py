"""The docs tell the truth: every `tw_keras.…` name and every repository path that a
docstring, comment or document mentions exists, and the TFRecord builder's header lists
exactly the features the records hold."""
import ast
import glob
import os
import re


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where names are cited: the library, its entry points, scripts, tests and every document.
SOURCES = ["README.md", "WORKSPACE.md", "docs/*.md", "docs/*.sh", "tw_keras/**/*.py", "experiments/*.py",
           "data_prep/*.py", "benchmarks/*.py", "benchmarks/*.sh", "tests/*.py", ".ci/run", "setup.cfg"]
DOTTED = re.compile(r"(?<![\w/.])tw_keras(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w/.-])((?:tw_keras|experiments|data_prep|benchmarks|tests|docs|\.ci)/[\w./-]*[\w/])")


def _sources():
  for pattern in SOURCES:
    for path in sorted(glob.glob(os.path.join(ROOT, pattern), recursive=True)):
      # measured artefacts (JSON/markdown results) are not docs; this file cites wrong names on purpose
      if "/docs/study_cpu_" not in path and not path.endswith("tests/test_docs.py"):
        yield path


def _module_file(parts):
  base = os.path.join(ROOT, *parts)
  for candidate in (base + ".py", os.path.join(base, "__init__.py")):
    if os.path.exists(candidate):
      return candidate
  return None


def _top_level_names(path):
  tree = ast.parse(open(path).read())
  names = set()
  for node in tree.body:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
      names.add(node.name)
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
      for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
        names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
      names.update((a.asname or a.name).split(".")[0] for a in node.names)
  return names


def dotted_name_problem(name):
  """None if `tw_keras.a.b[.attr]` names a module (and, after it, a top-level name of it)."""
  parts = name.split(".")
  for n in range(len(parts), 0, -1):
    path = _module_file(parts[:n])
    if path:
      rest = parts[n:]
      if rest and rest[0] not in _top_level_names(path):
        return f"{'.'.join(parts[:n])} has no {rest[0]!r}"
      return None
  return "no such module"


def test_every_cited_module_and_name_exists():
  problems = []
  for path in _sources():
    text = open(path, errors="replace").read()
    for name in sorted(set(DOTTED.findall(text))):
      problem = dotted_name_problem(name)
      if problem:
        problems.append(f"{os.path.relpath(path, ROOT)}: {name}: {problem}")
  assert not problems, "\n".join(problems)


def test_every_cited_repository_path_exists():
  problems = []
  for path in _sources():
    text = open(path, errors="replace").read()
    for cited in sorted(set(PATH.findall(text))):
      if any(c in cited for c in "{*") or cited.endswith((".tmp", "-")):
        continue  # a pattern, not a path
      if not os.path.exists(os.path.join(ROOT, cited.rstrip("/."))):
        problems.append(f"{os.path.relpath(path, ROOT)}: {cited}")
  assert not problems, "\n".join(problems)


def test_the_checker_catches_what_it_should():
  assert dotted_name_problem("tw_keras.model.twnet") is None
  assert dotted_name_problem("tw_keras.model.twnet.build") is None
  assert dotted_name_problem("tw_keras.models") == "tw_keras has no 'models'"
  assert dotted_name_problem("tw_keras.model.twnet.no_such_function") == "tw_keras.model.twnet has no 'no_such_function'"
  assert PATH.findall("see `tw_keras/export.py` and docs/CONVENTIONS.md.") == ["tw_keras/export.py",
                                                                              "docs/CONVENTIONS.md"]


def test_the_builder_header_lists_exactly_the_features_written(tiny_records):
  import tensorflow as tf
  from tw_keras.data import dataset
  header = open(os.path.join(ROOT, "data_prep", "build_tfrecords.py")).read().split('"""')[1]
  listed = set(re.findall(r"\b((?:sequence|motion|residual|frame|image|label)/\w+)\b", header))
  record = next(iter(tf.data.TFRecordDataset(dataset.shard_files(tiny_records, "val")).take(1))).numpy()
  example = tf.train.SequenceExample.FromString(record)
  written = set(example.context.feature) | set(example.feature_lists.feature_list)
  assert listed == written, (sorted(listed - written), sorted(written - listed))
