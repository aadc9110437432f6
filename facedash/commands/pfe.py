"""``facedash pfe``: train the uncertainty head and the decoder, score images, list the heads.

Every model has its own head (``facedash.pfe.saved``): ``pfe train --model NAME`` trains
NAME's (FaceNet's is the default and the demo's), ``pfe score --model NAME`` scores with it,
``pfe heads`` lists them. The decoder is FaceNet's only.
"""

from __future__ import annotations

import argparse
import sys
import time

from facedash.commands.common import add_source_args, emit, load_embeddings, progress_bar


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--pfe-dir",
        default=None,
        help="where the heads and the decoder live (default: $FACEDASH_HOME/pfe; another "
        "model's head in its models/<store key> folder)",
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
        "model": result.model_id,
        "features": rec["features"],
        "dim": head.dim,
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
        "saved": str(train.head_dir(result.model_id, args.pfe_dir)),
    }
    text = (
        f"Trained {result.model_id}'s uncertainty head in {payload['seconds']:.1f} s "
        f"(final -MLS {rec['final_loss']:.1f}); saved in {payload['saved']}.\n"
        f"It reads {rec['feature_layer']} and gives {head.dim} sigma^2 per face.\n"
        f"Held-out people {', '.join(rec['heldout_people'])}:\n"
        f"  Spearman(degradation, mean sigma^2) = {ho['spearman_sigma_vs_degradation']:.3f}\n"
        f"  AUC clean-vs-degraded: cosine {ho['auc_cosine']:.4f}, MLS {ho['auc_mls']:.4f}\n"
        f"  TAR gain at 10% rejection (PFE vs detector score, FAR {ho['far']:g}): "
        f"{ho['tar_gain_at_10pct_rejection']:+.4f}"
    )
    emit(args, payload, text)
    return 0


def cmd_train_decoder(args: argparse.Namespace) -> int:
    from facedash.errors import FacedashError
    from facedash.models import get_model
    from facedash.pfe import decoder

    if args.model != "facenet":  # one decoder, FaceNet's: another model's would replace it
        raise FacedashError(
            f"the decoder is FaceNet's only; {args.model!r} gets an uncertainty head "
            f"(`facedash pfe train --model {args.model}`) but no decoder"
        )
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
    from facedash.models.cards import spec
    from facedash.pfe import score, train

    card = spec(args.model)
    head = train.load_head(args.pfe_dir, model=args.model)
    if head is None:
        more = "" if args.model == "facenet" else f" --model {args.model}"
        raise FacedashError(
            f"no uncertainty head is trained for {args.model} yet. "
            f"Fix: run `facedash pfe train --demo{more}`"
        )
    detector = None
    if not args.aligned:
        from facedash.faces.detect import Detector

        detector = Detector()
    embedder = get_model(args.model)
    crops, errors = score.crops_from_files(
        args.images, aligned=args.aligned, detector=detector, card=card, embedder=embedder
    )
    ok = [n for n, c in enumerate(crops) if c is not None]
    import numpy as np

    scores = (
        score.score_crops(np.stack([c for c in crops if c is not None]), embedder, head)
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
    emit(args, {"model": args.model, "dim": head.dim, "images": out}, "\n".join(lines))
    return 0 if ok else 1


def cmd_heads(args: argparse.Namespace) -> int:
    from facedash.pfe import saved

    rows = []
    for key, rec in saved.heads(args.pfe_dir).items():
        rows.append(
            {
                "model": rec.get("model_id", "facenet"),
                "store_key": rec.get("model_key", key),
                "features": rec.get("feature_layer", ""),
                "dim": rec.get("config", {}).get("dim", 128),
                "dataset": rec.get("dataset", ""),
                "trained_at": rec.get("trained_at", ""),
                "demo": "demo_recipe" in rec,
                "folder": str(
                    saved.pfe_dir(args.pfe_dir)
                    if key == "facenet"
                    else saved.pfe_dir(args.pfe_dir) / saved.MODELS / key
                ),
            }
        )
    lines = [
        f"{r['model']}: {r['dim']} sigma^2 from {r['features']}; trained {r['trained_at']} on "
        f"{r['dataset']} ({r['folder']})"
        for r in rows
    ] or ["no uncertainty head is trained yet (facedash pfe train --demo)"]
    emit(args, {"heads": rows}, "\n".join(lines))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``facedash pfe {train,score,train-decoder,heads}``."""
    p = sub.add_parser("pfe", help="Probabilistic Face Embeddings: uncertainty head, MLS, decoder")
    pfe_sub = p.add_subparsers(dest="pfe_command", required=True)

    p_train = pfe_sub.add_parser(
        "train",
        help="train a model's uncertainty head (--model, default facenet; held-out figures)",
    )
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
    p_score.add_argument(
        "--model", default="facenet", help="whose head scores them (default: facenet)"
    )
    _common(p_score)
    p_score.set_defaults(func=cmd_score)

    p_dec = pfe_sub.add_parser("train-decoder", help="train the embedding -> face decoder")
    add_source_args(p_dec)
    p_dec.add_argument("--epochs", type=int, default=20)
    p_dec.add_argument("--seed", type=int, default=0)
    _common(p_dec)
    p_dec.set_defaults(func=cmd_train_decoder)

    p_heads = pfe_sub.add_parser("heads", help="the uncertainty heads trained, one per model")
    _common(p_heads)
    p_heads.set_defaults(func=cmd_heads)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)
