"""``facedash pfe``: train the uncertainty head and the decoder, score images."""

from __future__ import annotations

import argparse
import sys
import time

from facedash.commands.common import add_source_args, emit, load_embeddings, progress_bar


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--pfe-dir", default=None, help="where the head/decoder live (default: $FACEDASH_HOME/pfe)"
    )
    p.add_argument("--json", action="store_true")


def cmd_train(args: argparse.Namespace) -> int:
    from facedash.faces.detect import Detector
    from facedash.models import get_model
    from facedash.pfe import train

    result = load_embeddings(args, progress=not args.json)
    update, close = progress_bar(not args.json)
    started = time.perf_counter()
    try:
        head = train.train(
            result,
            embedder=get_model(result.model_id),
            detector=None if args.no_detector else Detector(),
            epochs=args.epochs,
            seed=args.seed,
            root=args.pfe_dir,
            progress=update,
        )
    finally:
        close()
    rec = head.record
    ho = rec["heldout"]
    payload = {
        "final_loss": rec["final_loss"],
        "heldout": {
            k: ho[k]
            for k in (
                "spearman_sigma_vs_degradation",
                "auc_cosine",
                "auc_mls",
                "tar_gain_at_10pct_rejection",
                "spearman_by_kind",
                "spearman_per_face_median",
                "far",
                "faces",
                "crops",
            )
        },
        "heldout_people": rec["heldout_people"],
        "train_people": rec["train_people"],
        "train_crops": rec["train_crops"],
        "epochs": rec["epochs"],
        "fit_seconds": rec["fit_seconds"],
        "seconds": round(time.perf_counter() - started, 2),
        "saved": str(train.pfe_dir(args.pfe_dir)),
    }
    text = (
        f"Trained the uncertainty head in {payload['seconds']:.1f} s "
        f"(final -MLS {rec['final_loss']:.1f}); saved in {payload['saved']}.\n"
        f"Held-out people {', '.join(rec['heldout_people'])}:\n"
        f"  Spearman(degradation, mean sigma^2) = {ho['spearman_sigma_vs_degradation']:.3f}\n"
        f"  AUC clean-vs-degraded: cosine {ho['auc_cosine']:.4f}, MLS {ho['auc_mls']:.4f}\n"
        f"  TAR gain at 10% rejection (PFE vs detector score, FAR {ho['far']:g}): "
        f"{ho['tar_gain_at_10pct_rejection']:+.4f}"
    )
    emit(args, payload, text)
    return 0


def cmd_train_decoder(args: argparse.Namespace) -> int:
    from facedash.models import get_model
    from facedash.pfe import decoder

    result = load_embeddings(args, progress=not args.json)
    update, close = progress_bar(not args.json)
    try:
        dec = decoder.train_decoder(
            result,
            embedder=get_model(result.model_id),
            epochs=args.epochs,
            seed=args.seed,
            root=args.pfe_dir,
            progress=update,
        )
    finally:
        close()
    rec = {k: v for k, v in dec.record.items() if k != "losses"}
    rec["final_loss"] = dec.record["losses"][-1]
    text = (
        f"Trained the decoder in {rec['seconds']:.1f} s on {rec['trained_on']}.\n"
        f"Held-out reconstruction MSE {rec['heldout_mse']:.4f} "
        f"(baselines: the mean face {rec['heldout_mse_mean_face']:.4f}, "
        f"the person's mean face {rec['heldout_mse_person_mean_face']:.4f})."
    )
    emit(args, rec, text)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from facedash.errors import FacedashError
    from facedash.models import get_model
    from facedash.pfe import score, train

    head = train.load_head(args.pfe_dir)
    if head is None:
        raise FacedashError(
            "no uncertainty head is trained yet. Fix: run `facedash pfe train --demo`"
        )
    detector = None
    if not args.aligned:
        from facedash.faces.detect import Detector

        detector = Detector()
    crops, errors = score.crops_from_files(args.images, aligned=args.aligned, detector=detector)
    ok = [n for n, c in enumerate(crops) if c is not None]
    import numpy as np

    scores = (
        score.score_crops(
            np.stack([c for c in crops if c is not None]), get_model(head.record["model_id"]), head
        )
        if ok
        else None
    )
    out = []
    for n, f in enumerate(args.images):
        if n in ok and scores is not None:
            k = ok.index(n)
            out.append(
                {
                    "file": str(f),
                    "confidence": float(scores["confidence"][k]),
                    "mean_sigma2": float(scores["mean_sigma2"][k]),
                    "harmonic_sigma2": float(1.0 / scores["confidence"][k]),
                }
            )
        else:
            out.append({"file": str(f), "error": errors[n]})
    lines = [
        f"{o['file']}: confidence {o['confidence']:.1f}, mean sigma^2 {o['mean_sigma2']:.5f}"
        if "error" not in o
        else f"{o['file']}: not scored ({o['error']})"
        for o in out
    ]
    emit(args, {"images": out}, "\n".join(lines))
    return 0 if ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``facedash pfe {train,score,train-decoder}``."""
    p = sub.add_parser("pfe", help="Probabilistic Face Embeddings: uncertainty head, MLS, decoder")
    pfe_sub = p.add_subparsers(dest="pfe_command", required=True)

    p_train = pfe_sub.add_parser("train", help="train the uncertainty head (held-out figures)")
    add_source_args(p_train)
    p_train.add_argument("--epochs", type=int, default=60)
    p_train.add_argument("--seed", type=int, default=0)
    p_train.add_argument(
        "--no-detector", action="store_true", help="skip MTCNN scores (no TAR gain figure)"
    )
    _common(p_train)
    p_train.set_defaults(func=cmd_train)

    p_score = pfe_sub.add_parser("score", help="confidence and mean sigma^2 of images")
    p_score.add_argument("images", nargs="+", metavar="IMAGE")
    p_score.add_argument(
        "--aligned", action="store_true", help="images are aligned face crops: skip detection"
    )
    _common(p_score)
    p_score.set_defaults(func=cmd_score)

    p_dec = pfe_sub.add_parser("train-decoder", help="train the embedding -> face decoder")
    add_source_args(p_dec)
    p_dec.add_argument("--epochs", type=int, default=20)
    p_dec.add_argument("--seed", type=int, default=0)
    _common(p_dec)
    p_dec.set_defaults(func=cmd_train_decoder)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)
