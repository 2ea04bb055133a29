"""SciPy's import without its docstring rewriting: scikit-learn's import, for the domain classifier, costs less.

Importing scikit-learn imports scipy.stats (through sklearn.utils.fixes), and SciPy 1.15+ rewrites
the docstrings of some 600 functions as they are defined: each is parsed into sections by
`scipy._lib._docscrape.FunctionDoc`, a note added (the array backends it supports, its axis and
nan_policy parameters) and printed back. It is a third of scipy.stats' import, about 0.3 s of CPU
holding the GIL, in every run that fits the classifier, for text nobody reads in a batch job.

`plain_scipy_docstrings()` makes `FunctionDoc` keep a function's docstring as written instead of
parsing it: the decorators then give each function its own docstring back, without the added notes.
Nothing else changes (the decorators use the parsed docstring for nothing but the new text; a test
compares scipy's results with and without). It only acts before SciPy's functions are defined, on
the SciPy this project pins, where the class has the shape it expects; anything else leaves SciPy as
it is. A docstring another thread parsed just before the change still prints as SciPy would
(a thread may be importing scipy.special meanwhile). `python -OO`, which drops docstrings, has
the same effect on SciPy.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

__all__ = ["plain_scipy_docstrings"]

_ROLES = {"func": "function", "meth": "method"}
_lock = threading.Lock()  # the import thread and the classifier's may both ask


def plain_scipy_docstrings() -> bool:
    """Make SciPy's FunctionDoc keep docstrings as written; True when it does (changed now or before)."""
    with _lock:
        return _change()


def _change() -> bool:
    done = getattr(getattr(sys.modules.get("scipy._lib._docscrape"), "FunctionDoc", None), "_plain", False)
    if done or "scipy.stats" in sys.modules:  # changed already, or its functions are defined: nothing to save
        return bool(done)
    try:
        from scipy._lib import _docscrape
    except ImportError:
        return False
    cls: Any = getattr(_docscrape, "FunctionDoc", None)
    base: Any = getattr(_docscrape, "NumpyDocString", None)
    if cls is None or base is None or not isinstance(getattr(base, "sections", None), dict):
        return False

    sections: dict = base.sections
    parsed_str = cls.__str__

    def __init__(self: Any, func: Any, role: str = "func", doc: Any = None, config: Any = None) -> None:
        if doc is None:
            if func is None:
                raise ValueError("No function or docstring given")
            doc = getattr(func, "__doc__", None) or ""
        self._f, self._role, self._plain_doc = func, role, doc
        self._parsed_data = {k: (list(v) if isinstance(v, list) else v) for k, v in sections.items()}

    def __str__(self: Any) -> str:
        if "_plain_doc" not in self.__dict__:  # parsed before the change (another thread importing SciPy)
            return parsed_str(self)
        # the callers drop this first line (the signature's place) and keep the rest
        name = getattr(self._f, "__name__", type(self).__name__)
        return f".. {_ROLES.get(self._role, '')}:: {name}\n{self._plain_doc}"

    cls.__init__, cls.__str__, cls._plain = __init__, __str__, True
    return True
