"""The outputs of a date change together or not at all: stage, commit with the manifest last, publish.

    <out>/.staging/<run>/<name>   1. a phase writes its new outputs here (hidden; never read as input)
    <out>/manifest.json           2. then the manifest, last: `outputs` lists every output of the date
                                     {name: {sha256, size, staged}}. Writing it is the commit.
    <out>/<name>                  3. then each output is published under its final name (a rename
                                     locally, a PUT on S3), and outputs of an earlier run of the date
                                     that this one does not produce are deleted.

Why stage instead of writing final names first: a run that stops before step 2 (killed, S3 gone)
leaves the previous commit of the date untouched, files and manifest alike, so readers keep the
last good results. A reader trusts `<out>/<name>` only when the manifest lists it with a matching
sha256; when the final name does not match (a run stopped between steps 2 and 3) the staged copy
the manifest names is read instead, and the next run publishes it (`sweep_staging`). A file the
manifest does not list, or whose hash does not match, is not committed and is ignored.

Manifests written before this protocol have no `outputs`: their metrics.json is trusted when it is
not newer than the manifest (the old order wrote the manifest after it).

    manifest.py   the manifest and its entries: Output, digest, read_manifest, UncommittedError
    publish.py    commit, add_outputs, update_manifest: stage, compare-and-swap the manifest, publish
    committed.py  read_committed, committed_metrics: what a date (or the history) has committed
    sweep.py      sweep_staging: what stopped runs left in .staging
"""

from monitor.io.commit.committed import committed_metrics, read_committed
from monitor.io.commit.manifest import KNOWN_OUTPUTS, MANIFEST, Output, UncommittedError, digest, read_manifest
from monitor.io.commit.publish import add_outputs, commit, update_manifest
from monitor.io.commit.sweep import sweep_staging

__all__ = [
    "MANIFEST",
    "KNOWN_OUTPUTS",
    "Output",
    "UncommittedError",
    "digest",
    "commit",
    "add_outputs",
    "read_manifest",
    "read_committed",
    "committed_metrics",
    "update_manifest",
    "sweep_staging",
]
