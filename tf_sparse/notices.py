"""What tf_sparse tells its user while it works: progress bars and its warning categories.

Progress: ``tfs.sparsify``, ``tfs.harden``, ``tfs.strip`` and ``tfs.export_tflite`` show a Keras
progress bar (``keras.utils.Progbar``, the bar ``model.fit`` draws) when their work is long. Each
takes ``verbose=``; ``None`` (the default) follows the process-wide level of
``tfs.set_verbosity``:

* ``"auto"`` (the default level): a bar for models of at least ``AUTO_LAYERS`` layers, or once
  the work has taken ``AUTO_SECONDS`` and is not finished; small models (tests, demos) stay quiet;
* ``1``: always a bar; ``2``: one line when the work is done; ``0``: nothing.

Like Keras's own bars, the output goes to stdout, or to the ``absl`` log once
``keras.config.disable_interactive_logging()`` was called.

Warnings are ``UserWarning`` subclasses, so ``warnings.filterwarnings("ignore",
category=tfs.LeftDenseWarning)`` silences one kind without the others.
"""

from __future__ import annotations

import time

AUTO_LAYERS = 100
AUTO_SECONDS = 2.0

_LEVELS = ("auto", 0, 1, 2)
_verbosity = "auto"


class LeftDenseWarning(UserWarning):
    """``tfs.sparsify`` left layers with weights dense (one warning listing them all, with why)."""


class UnprunedWarning(UserWarning):
    """Sparse layers whose pruning never ran: trained without ``tfs.UpdateMasks``, or a schedule
    that had not begun when training ended."""


def _check_level(level, owner, arg):
    if isinstance(level, bool) or level not in _LEVELS:
        raise ValueError(f"{owner}: `{arg}` must be 'auto', 0, 1 or 2, got {level!r}")
    return level


def set_verbosity(level):
    """Sets how ``sparsify``, ``harden``, ``strip`` and ``export_tflite`` report progress when
    their ``verbose`` argument is ``None``: ``"auto"`` (a bar for long work only; the default),
    ``1`` (always a bar), ``2`` (one line at the end) or ``0`` (silent). Returns the previous level.

    Example:
      >>> previous = tfs.set_verbosity(0)  # quiet scripts
    """
    global _verbosity
    previous = _verbosity
    _verbosity = _check_level(level, "set_verbosity", "level")
    return previous


def get_verbosity():
    """The process-wide progress level (see ``tfs.set_verbosity``)."""
    return _verbosity


def resolve(verbose, owner):
    """The level for one call: ``verbose`` checked, or the process-wide level for ``None``."""
    if verbose is None:
        return _verbosity
    return _check_level(verbose, owner, "verbose")


class Progress:
    """A Keras progress bar over ``target`` units that appears only when the level asks for it.

    ``update(current)`` moves it (never backwards, never past ``target - 1`` until ``done()``,
    so phases whose counts are estimates cannot finish the bar early); ``done()`` completes it.
    With level ``"auto"`` the bar starts at once for ``size >= AUTO_LAYERS``, otherwise at the
    first update made ``AUTO_SECONDS`` after the start while work remains. Its title line
    (``"sparsify 'resnet50': 177 layers"``) is printed when the bar first shows.
    """

    def __init__(self, title, target, unit="layer", verbose=None, owner="tf_sparse", size=None):
        self.title = title
        self.target = max(1, int(target))
        self.unit = unit
        self.level = resolve(verbose, owner)
        self.size = self.target if size is None else int(size)
        self._start = time.time()
        self._current = 0
        self._rate_from = None
        self._bar = None
        if self.level == 1 or (self.level == "auto" and self.size >= AUTO_LAYERS):
            self._show()

    def _show(self):
        import keras
        from keras.src.utils import io_utils

        io_utils.print_msg(self.title)
        self._bar = keras.utils.Progbar(self.target, verbose=2 if self.level == 2 else 1, unit_name=self.unit)
        self._bar._start = self._start  # timings count from the start of the work, not the bar's
        self._bar._time_at_epoch_start = self._start
        if self._rate_from is not None:
            self._bar._time_after_first_step = self._rate_from
            self._bar._seen_so_far = self._current

    def lead_done(self):
        """The first unit, a one-off piece of work unlike the rest (fitting a pattern library),
        is done: it counts in the elapsed time but not in the time per unit and the ETA."""
        self._current = max(self._current, 1)
        self._rate_from = time.time()
        if self._bar is not None:
            self._bar._time_after_first_step = self._rate_from
            self._bar._seen_so_far = self._current

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def update(self, current):
        current = min(max(int(current), self._current), self.target - 1)
        self._current = current
        if self._bar is None and self.level == "auto" and time.time() - self._start >= AUTO_SECONDS:
            self._show()
        if self._bar is not None:
            self._bar.update(current)

    def add(self, n=1):
        self.update(self._current + n)

    def done(self):
        self._current = self.target
        if self._bar is None and self.level == 2:
            self._show()
        if self._bar is not None:
            self._bar.update(self.target, finalize=True)
            self._bar = None
