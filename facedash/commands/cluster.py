"""``facedash cluster``: project a face set, run KMeans, and score the clusters against people."""

from __future__ import annotations

import argparse

from facedash.commands.common import add_source_args, emit, load_embeddings
from facedash.errors import FacedashError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``cluster`` sub-command."""
    p = sub.add_parser(
        "cluster", help="project (PCA/UMAP/t-SNE), KMeans, and how clusters match people"
    )
    add_source_args(p)
    p.add_argument("--projection", choices=["pca", "umap", "tsne"], default="pca")
    p.add_argument("--dims", type=int, choices=[2, 3], default=2)
    p.add_argument("--k", type=int, default=None, help="clusters (default: the number of people)")
    p.add_argument(
        "--space",
        choices=["projected", "full"],
        default="projected",
        help="run KMeans on the projection or on the full embedding",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--neighbors", type=int, default=15, help="UMAP n_neighbors")
    p.add_argument("--min-dist", type=float, default=0.1, help="UMAP min_dist")
    p.add_argument("--perplexity", type=float, default=30.0, help="t-SNE perplexity")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cluster)


def cmd_cluster(args: argparse.Namespace) -> int:
    """Run the job and print the summary (or one JSON object)."""
    from facedash.projection import cluster_map

    result = load_embeddings(args, progress=True)
    if len(result.rows) < 4:
        raise FacedashError(f"need at least 4 faces to cluster, found {len(result.rows)}")
    try:
        cmap = cluster_map(
            result.embeddings,
            result.people,
            method=args.projection,
            dims=args.dims,
            k=args.k,
            space=args.space,
            seed=args.seed,
            n_neighbors=args.neighbors,
            min_dist=args.min_dist,
            perplexity=args.perplexity,
        )
    except ValueError as exc:
        raise FacedashError(str(exc)) from None
    summary = cmap.summary()
    m = cmap.metrics
    sil = "n/a" if m.silhouette is None else f"{m.silhouette:.3f}"
    width = max(len(p) for p in m.people)
    lines = [
        f"{len(result.rows)} faces of {len(m.people)} people: {args.projection.upper()} "
        f"{args.dims}-D, KMeans k={cmap.clustering.k} on the {args.space} space (seed {args.seed})",
        f"accuracy {m.accuracy:.1%} (clusters matched to people)  ARI {m.ari:.3f}  "
        f"NMI {m.nmi:.3f}  silhouette {sil}",
        " " * width + "  " + " ".join(f"c{c:<3d}" for c in m.clusters),
    ]
    for person, row in zip(m.people, m.confusion.tolist(), strict=True):
        lines.append(f"{person:<{width}}  " + " ".join(f"{v:<4d}" for v in row))
    emit(args, summary, "\n".join(lines))
    return 0
