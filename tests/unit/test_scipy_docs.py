"""scikit-learn's import without SciPy's docstring rewriting (monitor.stages.drift.scipy_docs): the same
results from SciPy and scikit-learn, each function keeping its own docstring, and SciPy left alone when
its functions are defined already. Each case runs in a fresh interpreter: this one imported scipy.stats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

PLAIN = "from monitor.stages.drift.scipy_docs import plain_scipy_docstrings\nprint(json.dumps(plain_scipy_docstrings()))\n"

RESULTS = """
import numpy as np
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

rng = np.random.default_rng(7)
a, b = rng.normal(0, 1, 3000), rng.normal(0.1, 1.2, 2500)
x = np.column_stack([np.concatenate([a, b[:2000] * 0.5]), rng.normal(size=5000)])
y = np.r_[np.zeros(3000), np.ones(2000)]
clf = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(x, y)
out = {
    "ks": list(stats.ks_2samp(a, b)),
    "mwu": list(stats.mannwhitneyu(a, b)),
    "chi2": list(stats.chi2_contingency([[30, 20, 5], [25, 30, 9]])[:2]),
    "wasserstein": stats.wasserstein_distance(a, b),
    "rank": stats.rankdata([3, 1, 3, 2], axis=0).tolist(),
    "norm": stats.norm.sf(2.5),
    "auc": roc_auc_score(y, clf.predict_proba(x)[:, 1]),
}
print(json.dumps({k: repr(v) for k, v in out.items()}))
print(json.dumps({"doc": stats.ks_2samp.__doc__, "fixed": stats.ks_2samp.__doc__.count("Array API Standard Support")}))
"""


def _python(code: str) -> list:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    res = subprocess.run([sys.executable, "-c", "import json\n" + textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=300, env={**env, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert res.returncode == 0, res.stderr[-3000:]
    return [json.loads(line) for line in res.stdout.strip().splitlines()]


def test_same_results_from_scipy_and_sklearn_and_each_function_keeps_its_docstring():
    done, plain_results, plain_doc = _python(PLAIN + RESULTS)
    usual_results, usual_doc = _python(RESULTS)
    assert done is True
    assert plain_results == usual_results
    # the docstring as written, without the note SciPy adds on import; SciPy's own import adds it
    assert usual_doc["fixed"] == 1 and plain_doc["fixed"] == 0
    assert "two-sample Kolmogorov-Smirnov test" in plain_doc["doc"]


def test_scipy_is_left_alone_once_its_functions_are_defined():
    assert _python("import scipy.stats\n" + PLAIN) == [False]


BEFORE_THE_CHANGE = '''
from scipy._lib._docscrape import FunctionDoc

def f(x):
    """Sum.

    Parameters
    ----------
    x : int
        A number.
    """

before = FunctionDoc(f)
before["Notes"].append("added")
usual = str(before)
from monitor.stages.drift.scipy_docs import plain_scipy_docstrings
done = plain_scipy_docstrings()
print(json.dumps([done, str(before) == usual, "added" in usual, str(FunctionDoc(f)).split(chr(10), 1)[1] == f.__doc__]))
'''


def test_a_docstring_parsed_before_the_change_still_prints():
    # another thread importing SciPy may have parsed a docstring just before the change was made
    assert _python(BEFORE_THE_CHANGE) == [[True, True, True, True]]
