"""Quiet, one-time TensorFlow set-up, done lazily by whoever first needs TensorFlow."""

from __future__ import annotations

import os
import threading

_done = False
_lock = threading.Lock()


def configure() -> None:
    """Silence TensorFlow's start-up chatter; on GPUs, grow memory on demand and keep fp32 exact (no TF32). Idempotent."""
    global _done
    with _lock:
        if _done:
            return
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import logging

        import tensorflow as tf

        tf.get_logger().setLevel(logging.ERROR)
        gpus = tf.config.list_physical_devices("GPU")
        for gpu in gpus:
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:  # already initialised
                pass
        if gpus:  # the reference is fp32: no TF32 matmuls/convolutions on Ampere and later
            tf.config.experimental.enable_tensor_float_32_execution(False)
        _done = True


def tf_device() -> str:
    """``GPU:0`` when TensorFlow sees a GPU, else ``CPU:0``."""
    import tensorflow as tf

    return "GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0"
