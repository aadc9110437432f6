"""``facedash models add|list|remove|check``: the model cards, a user's models beside the built-in ones.

``add`` opens the model, fills in what the card leaves out from the model's input (size,
layout), refuses what contradicts it, runs eight aligned demo faces through it (no NaN, not
one vector for every face) and only then writes ``$FACEDASH_HOME/cards/NAME/card.toml``:
a refused model leaves nothing registered and the store untouched.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from facedash.commands.common import emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``models`` and its sub-commands."""
    p = sub.add_parser("models", help="register your own face-recognition models (model cards)")
    msub = p.add_subparsers(dest="models_command", required=True)

    add = msub.add_parser(
        "add", help="register a model file: ONNX, Keras, SavedModel or OpenVINO IR"
    )
    add.add_argument(
        "path", help="model.onnx, model.keras / .h5, a SavedModel folder or model.xml (+ .bin)"
    )
    add.add_argument(
        "--name", required=True, help="the model's name in facedash (e.g. arcface-r50)"
    )
    add.add_argument(
        "--input-size",
        type=int,
        default=None,
        help="square input side in pixels (default: from the model)",
    )
    add.add_argument(
        "--layout",
        choices=["nhwc", "nchw"],
        default=None,
        help="default: from the model's input shape",
    )
    add.add_argument(
        "--channels", choices=["rgb", "bgr"], default="rgb", help="colour order (default: rgb)"
    )
    add.add_argument(
        "--normalize",
        default="prewhiten",
        help="prewhiten (per image, as FaceNet), unit (x/255) or MEAN,STD such as 127.5,127.5 (default: prewhiten)",
    )
    add.add_argument(
        "--align",
        choices=["facenet", "arcface", "dlib"],
        default="facenet",
        help="facenet: eye-levelled crop with a margin; arcface: 5-point template; dlib: dlib's chip",
    )
    add.add_argument("--output", default=None, help="which output, when the model has several")
    add.add_argument("--metric", choices=["cosine", "euclidean"], default="cosine")
    add.add_argument(
        "--no-l2", action="store_true", help="compare raw embeddings (default: L2-normalised)"
    )
    add.add_argument("--threshold", type=float, default=None, help="a published default threshold")
    add.add_argument("--threshold-source", default="", help="where that threshold comes from")
    add.add_argument(
        "--trust-code",
        action="store_true",
        help="allow a Keras file whose loading runs Python code (Lambda layers)",
    )
    add.add_argument("--copy", action="store_true", help="keep a copy of the model beside its card")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=cmd_add)

    ls = msub.add_parser("list", help="every registered model, built-in ones first")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    rm = msub.add_parser("remove", help="unregister a model (its embeddings stay in the store)")
    rm.add_argument("name")
    rm.add_argument("--json", action="store_true")
    rm.set_defaults(func=cmd_remove)

    check = msub.add_parser("check", help="embed the demo faces: does the card fit the model?")
    check.add_argument("name")
    check.add_argument(
        "--store", default=None, help="SQLite store (default: $FACEDASH_HOME/embeddings.sqlite3)"
    )
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=cmd_check)


def _probe_crops(size: int) -> Any:
    """Eight aligned demo faces at ``size`` pixels, for the sanity check."""
    import cv2
    import numpy as np

    from facedash.faces.probe import demo_crops

    crops = demo_crops(None, 8)
    if crops.shape[1] == size:
        return crops
    return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])


def cmd_add(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from facedash.models import cards, user

    cards.check_name(args.name)
    card, session = user.inspect(
        Path(args.path),
        name=args.name,
        input_size=args.input_size,
        layout=args.layout,
        channels=args.channels,
        normalize=args.normalize,
        align=args.align,
        output=args.output,
        metric=args.metric,
        l2=not args.no_l2,
        threshold=args.threshold,
        threshold_source=args.threshold_source,
        trust_code=args.trust_code,
    )
    dim = user.sanity(card, session, _probe_crops(card.input_size))
    card = replace(card, dim=dim)
    folder = cards.write_card(card, copy_from=Path(card.path) if args.copy else None)
    card = cards.spec(card.id)
    payload = {"card_file": str(folder / "card.toml"), **card.as_dict()}
    emit(
        args,
        payload,
        f"Registered {card.id}: {card.runtime}, {card.input_size} px {card.layout.upper()} "
        f"{card.channels.upper()}, normalise {card.normalize}, {card.align} alignment, {dim}-d "
        f"({folder / 'card.toml'}). Check it: facedash models check {card.id}",
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from facedash.models import cards

    mine, problems = cards.user_cards()
    every = {**cards.MODELS, **mine}
    lines = [f"{'name':16s} {'runtime':14s} {'input':12s} {'dim':>4s}  title"]
    for c in every.values():
        lines.append(
            f"{c.id:16s} {c.runtime:14s} {c.input_size:>3d} {c.layout}{'':4s} {c.dim:>4d}  {c.name}"
        )
    for name, why in problems.items():
        lines.append(f"{name:16s} (unusable: {why})")
    emit(
        args,
        {"models": [c.as_dict() for c in every.values()], "problems": problems},
        "\n".join(lines),
    )
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from facedash.models import cards

    folder = cards.remove_card(args.name)
    emit(
        args,
        {"removed": args.name, "folder": str(folder)},
        f"Removed {args.name} ({folder}); its embeddings stay in the store.",
    )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from facedash.data.store import Store
    from facedash.verification.cardcheck import PLAUSIBLE_LOO, check_model

    store = Store(args.store) if args.store else Store()
    result = check_model(args.name, store=store)
    out = result.as_dict()
    lines = [
        f"{result.model}: {result.faces} demo faces, {result.dim}-d, norms {result.norm_min:.3g}-{result.norm_max:.3g} "
        f"(mean {result.norm_mean:.3g}) before L2",
        f"leave-one-out 1-NN {result.loo_1nn:.1%}, ROC-AUC {result.auc:.4f}, d' {result.d_prime:.2f}, "
        f"{result.faces_per_second:.0f} faces/s",
    ]
    if result.plausible:
        lines.append("The card fits: the model separates the demo people as a face model does.")
    else:
        if result.loo_1nn < PLAUSIBLE_LOO:
            lines.append(f"Leave-one-out below {PLAUSIBLE_LOO:.0%}: the card is probably wrong.")
        else:
            lines.append("Another preparation separates the demo people clearly better.")
        if result.suggestion:
            best = result.suggestion
            lines.append(
                f"This model separates the demo people best with `{best['flags']}` "
                f"(leave-one-out {best['loo_1nn']:.1%}, AUC {best['auc']:.4f}, "
                f"d' {best['d_prime']:.2f}): register it again with those flags."
            )
        else:
            lines.append(
                "No other channel order, normalisation or layout did better on these faces."
            )
    emit(args, out, "\n".join(lines))
    return 0
