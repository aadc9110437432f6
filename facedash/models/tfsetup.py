"""Quiet, one-time TensorFlow set-up, done lazily by whoever first needs TensorFlow."""

from __future__ import annotations

import os
import threading

_done = False
_lock = threading.Lock()
_threads: int | None = None


def use_threads(n: int | None) -> None:
    """TensorFlow's intra- and inter-op thread count for this process (None: TensorFlow's default).

    Takes effect when ``configure`` runs before TensorFlow's first operation (later it
    cannot change). ``facedash embed`` asks for 1: there TensorFlow only resizes the
    detector's image pyramid and cuts its crops between OpenVINO's networks, and its
    default pool of spinning threads took CPU from them (1,000 photos on 2 AMD EPYC
    cores: 15.6 and 17.3 s against 17.8 and 19.1 s, alternating processes).
    """
    global _threads
    _threads = n


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
        if _threads is not None:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(_threads)
                tf.config.threading.set_inter_op_parallelism_threads(_threads)
            except RuntimeError:  # TensorFlow already ran an operation: keep its pools
                pass
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
