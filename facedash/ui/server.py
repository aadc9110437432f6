"""``python server.py run app.py ...``: Streamlit's own command line, warm first.

What ``facedash serve`` (and so ``make app``) runs, through ``server.py`` beside ``app.py``,
instead of ``python -m streamlit``:
the same command line and options, in a process that has started the model warm-up
(``facedash.explain.warm``) before the server listens. Streamlit runs a page's script
only when a browser session opens; the warm-up thread loads and traces the first pages'
models meanwhile, in the process whose sessions then use them. ``FACEDASH_WARM=0``
serves without it (models load when a page first needs them). ``app.py`` keeps the Keras
session through Streamlit's after-run clean-up (``keep_keras_session``), so what was
traced stays traced.
"""

from __future__ import annotations

import sys


def _clean_matplotlib_only() -> None:
    """Streamlit's after-run clean-up without its Keras part: close pyplot's figures."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        try:
            plt.close("all")
        except Exception:  # noqa: BLE001, S110 - as Streamlit's: never fail a run over it
            pass


def keep_keras_session() -> None:
    """Stop Streamlit from resetting Keras after every script run (idempotent).

    Streamlit calls ``keras.backend.clear_session()`` when a run ends, which clears
    TensorFlow's kernel cache: the next call of each traced function (the explainers'
    gradients, the forward pass) instantiates it again, 3 s each on a 2-core CPU, as
    if it had never been warmed. This app builds its models once per server and
    shares them between sessions, so there is no per-run Keras state to reset (and a
    reset from one session's thread in the middle of another's explanation is a
    hazard). Matplotlib's figures are still closed.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if hasattr(script_runner, "_clean_problem_modules"):
        script_runner._clean_problem_modules = _clean_matplotlib_only


def main(argv: list[str] | None = None) -> None:
    """Start the warm-up (unless ``FACEDASH_WARM=0``), then run Streamlit's CLI on ``argv``."""
    from facedash.explain import warm  # here: app.py imports this module before its gate

    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["run"]:
        keep_keras_session()
        if warm.enabled():
            warm.start()
    from streamlit.web.cli import main as streamlit_main

    streamlit_main(args=args, prog_name="streamlit")


if __name__ == "__main__":
    main()
