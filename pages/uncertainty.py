"""Uncertainty page: Probabilistic Face Embeddings — each face as a Gaussian N(mu, sigma^2)."""

import numpy as np
import streamlit as st

from facedash.figures import uncertainty as fig
from facedash.images import decode_jpeg
from facedash.pfe import analysis, train
from facedash.pfe import decoder as dec
from facedash.pfe.mls import confidence
from facedash.ui import howto, state
from facedash.ui import pfe as pfe_ui

KNOBS = ("blur", "downscale", "jpeg", "noise", "occlusion", "darkness")


def _train_head(result) -> None:
    bar = st.progress(0.0, text="Preparing ...")
    st.button("Stop training", key="uncertainty_stop", help="Stops at once; nothing is saved.")

    def report(done: int, total: int, message: str) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=message)

    head = pfe_ui.train_head(result, report)
    bar.empty()
    st.success(f"Trained in {head.record['seconds']:.0f} s.")


def _train_decoder(result) -> None:
    bar = st.progress(0.0, text="Preparing ...")

    def report(done: int, total: int, message: str) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=message)

    pfe_ui.train_decoder(result, report)
    bar.empty()


def _ranking(result, sigma2) -> None:
    conf = confidence(np.where(np.isnan(sigma2), np.inf, sigma2))
    st.plotly_chart(
        fig.confidence_ranking(conf, result.people, result.names), key="uncertainty_rank_fig"
    )
    order = analysis.ranking(sigma2)
    n = st.slider("Faces shown at each end", 4, 16, 8, key="uncertainty_rank_n")
    for title, idx in (("Most certain", order[:n]), ("Least certain", order[::-1][:n])):
        st.markdown(f"**{title}**")
        cols = st.columns(n)
        for col, i in zip(cols, idx, strict=False):
            if result.thumbs[i] is not None:
                col.image(decode_jpeg(result.thumbs[i]), width="stretch")
                col.caption(f"{result.rows[i].person}\n\n{conf[i]:.0f}")


def _explorer(result, sigma2, extractor, head) -> None:
    rows = result.rows
    i = st.selectbox(
        "Face",
        pfe_ui.face_options(len(rows)),
        format_func=lambda k: f"{rows[k].person} · {rows[k].name}",
        key="uncertainty_face",
    )
    cols = st.columns(3)
    strengths = {
        k: cols[n % 3].slider(k, 0.0, 1.0, 0.0, 0.05, key=f"uncertainty_{k}")
        for n, k in enumerate(KNOBS)
    }
    crop = decode_jpeg(result.thumbs[i])
    out = analysis.explore(crop, strengths, extractor, head, seed=i)
    a, b, c = st.columns([1, 1, 2])
    a.image(crop, caption="clean", width="stretch")
    b.image(out["image"], caption="degraded", width="stretch")
    with c:
        m1, m2 = st.columns(2)
        m1.metric(
            "confidence",
            f"{out['confidence']:.0f}",
            f"{out['confidence'] - out['confidence_clean']:+.0f}",
        )
        m2.metric("mean σ²", f"{out['sigma2'].mean():.5f}")
        m1.metric("cosine to the clean face", f"{out['cosine']:.3f}")
        m2.metric(
            "MLS to the clean face",
            f"{out['mls']:.1f}",
            help=f"MLS of the clean face with itself: {out['mls_self']:.1f}",
        )
    st.plotly_chart(
        fig.sigma_profile(out["sigma2_clean"], out["sigma2"]), key="uncertainty_profile_fig"
    )


def _face_check(result, record) -> None:
    st.subheader("Clean, blurred, not a face")
    out = pfe_ui.face_check(result, record["trained_at"])
    if out["score"] is None:
        st.info(
            "This head has no face check: a crop without a face can look as certain as a face. "
            "Train the head again (Training, above) to add one."
        )
    labels = [f"{result.rows[i].person} · {i}" for i in out["faces"]]
    st.plotly_chart(
        fig.face_check(labels, out["clean"], out["blurred"], out["nonface"], out["nonface_kinds"]),
        key="uncertainty_face_check_fig",
    )
    cols = st.columns(3)
    cols[0].metric("lowest blurred face", f"{out['blurred'].min():.3g}")
    cols[1].metric("highest non-face", f"{out['nonface'].max():.3g}")
    cols[2].metric("faces clean > blurred > non-face", f"{int(out['ordered'].sum())}/{len(labels)}")
    st.image(list(out["nonface_crops"]), caption=list(out["nonface_kinds"]), width=72)


def _validity(result, sigma2, record) -> None:
    ho = record["heldout"]
    st.markdown(
        f"Held out from training: **{', '.join(record['heldout_people'])}** "
        f"({ho['faces']} photos × every degradation = {ho['crops']} crops)."
    )
    c = st.columns(4)
    c[0].metric("Spearman(strength, mean σ²)", f"{ho['spearman_sigma_vs_degradation']:.2f}")
    c[1].metric("AUC cosine (clean vs degraded)", f"{ho['auc_cosine']:.4f}")
    c[2].metric("AUC MLS (clean vs degraded)", f"{ho['auc_mls']:.4f}")
    gain = ho["tar_gain_at_10pct_rejection"]
    c[3].metric("TAR gain at 10% rejected", "n/a" if gain != gain else f"{gain:+.3f}")
    st.plotly_chart(fig.sigma_vs_degradation(ho["sigma_curves"]), key="uncertainty_sigma_fig")
    st.subheader("The dilemma: scores as both faces degrade")
    kind = st.selectbox("Degradation", sorted(ho["dilemma"]), key="uncertainty_dilemma_kind")
    st.plotly_chart(fig.dilemma(ho["dilemma"][kind], kind), key="uncertainty_dilemma_fig")
    st.subheader("Risk control: reject the lowest-quality faces")
    left, right = st.columns(2)
    left.plotly_chart(
        fig.risk_control(ho["risk_control"], ho["far"], "held-out people + degraded copies"),
        key="uncertainty_risk_heldout",
    )
    far = right.select_slider(
        "FAR on this set", [0.001, 0.01, 0.05, 0.1], value=0.01, key="uncertainty_far"
    )
    curves = pfe_ui.set_risk_control(result, sigma2, record["trained_at"], far)
    right.plotly_chart(
        fig.risk_control(curves, far, "this set (clean photos)"), key="uncertainty_risk_set"
    )


def _fusion(result, sigma2) -> None:
    people = sorted(set(result.people.tolist()))
    person = st.selectbox("Person", people, key="uncertainty_fuse_person")
    own = [i for i, r in enumerate(result.rows) if r.person == person][: pfe_ui.FACE_CHOICES]
    chosen = st.multiselect(
        "Photos to fuse",
        own,
        default=own[:3],
        format_func=lambda k: result.rows[k].name,
        key="uncertainty_fuse_photos",
    )
    if not chosen:
        st.info("Pick at least one photo.")
        return
    out = analysis.fusion(result.embeddings, sigma2, result.people, np.array(chosen))
    cols = st.columns(min(len(chosen), 8))
    for col, k in zip(cols, chosen, strict=False):
        col.image(decode_jpeg(result.thumbs[k]), width="stretch")
    st.plotly_chart(
        fig.confidence_bars(
            [result.rows[k].name for k in chosen], out["confidence_each"], out["confidence_fused"]
        ),
        key="uncertainty_fuse_conf",
    )
    metric = st.radio("Score", ["MLS", "cosine"], horizontal=True, key="uncertainty_fuse_metric")
    key = "mls" if metric == "MLS" else "cosine"
    fused, single = out[f"{key}_fused"], out[f"{key}_best"]
    st.plotly_chart(
        fig.fusion_scores(out["genuine"], fused, single, metric), key="uncertainty_fuse_fig"
    )
    a, b = st.columns(2)
    a.metric("confidence, fused", f"{out['confidence_fused']:.0f}")
    b.metric("confidence, best single photo", f"{out['confidence_each'].max():.0f}")
    a.metric("AUC, fused", f"{analysis.separation_auc(fused, out['genuine']):.4f}")
    b.metric("AUC, best single photo", f"{analysis.separation_auc(single, out['genuine']):.4f}")


def _decoder(result, sigma2, extractor, head) -> None:
    record = dec.read_decoder_record()
    if record is None:
        st.info("No decoder is trained yet (about a minute on 2 CPU cores).")
        if st.button("Train the decoder", key="uncertainty_train_decoder"):
            _train_decoder(result)
            st.rerun()
        return
    decoder = pfe_ui.decoder(record["trained_at"])
    st.caption(
        f"Decoder trained on {record['trained_on']}. Held-out reconstruction MSE "
        f"{record['heldout_mse']:.4f} on {record['heldout_faces']} photos it never saw "
        f"(baselines: the mean face {record['heldout_mse_mean_face']:.4f}, the person's mean "
        f"face {record.get('heldout_mse_person_mean_face', float('nan')):.4f})."
    )
    rows = result.rows
    i = st.selectbox(
        "Face",
        pfe_ui.face_options(len(rows)),
        format_func=lambda k: f"{rows[k].person} · {rows[k].name}",
        key="uncertainty_dec_face",
    )
    blur = st.slider("Blur the input first", 0.0, 1.0, 0.0, 0.1, key="uncertainty_dec_blur")
    crop = decode_jpeg(result.thumbs[i])
    if blur > 0:
        crop, mu, s2 = pfe_ui.degraded_gaussian(crop, blur, extractor, head, seed=i)
    else:
        mu, s2 = result.embeddings[i], sigma2[i]
    z = dec.samples(mu, s2, 15, seed=i)
    images = np.concatenate([decoder.decode(mu), decoder.decode(z)])
    a, b = st.columns([1, 4])
    a.image(crop, caption="input", width="stretch")
    a.image(images[0], caption="decoded μ", width="stretch")
    b.image(analysis.mosaic(images[1:], 5), caption="15 samples from N(μ, σ²)", width="stretch")
    st.metric("spread of the samples (mean pixel std)", f"{dec.sample_spread(images[1:]):.1f}")


def main() -> None:
    result = state.page_start("pages/uncertainty.py", "Uncertainty", howto.UNCERTAINTY)
    if result is None:
        return
    record = train.read_record()
    with st.expander("Training", expanded=record is None):
        if record is not None:
            st.caption(
                f"Head trained {record['trained_at']} on {record['dataset']}: {record['inputs']}; "
                f"{record['train_crops']} crops of {', '.join(record['train_people'])}; "
                f"{record['epochs']} epochs, {record['seconds']:.0f} s. Validity figures come from "
                f"this split; the saved head is {record.get('saved_head', 'the split model')}."
            )
            st.plotly_chart(fig.loss_curve(record["losses"]), key="uncertainty_loss_fig")
        else:
            st.info("No uncertainty head is trained yet: train one here (about a minute).")
        if st.button("Train the uncertainty head on this set", key="uncertainty_train"):
            _train_head(result)
            st.rerun()
    if record is None:
        return
    if record.get("model_id") != result.model_id:
        st.warning("The saved head belongs to another model; train one for this model.")
        return
    head = pfe_ui.head(record["trained_at"])
    extractor = pfe_ui.extractor(result.model_id)
    sigma2 = pfe_ui.set_sigma2(pfe_ui.set_key(result), record["trained_at"], result)
    tabs = st.tabs(
        ["Ranking", "Degradation explorer", "Validity", "Fusion", "Decoder samples"],
        key="uncertainty_tab",
    )
    with tabs[0]:
        _ranking(result, sigma2)
    with tabs[1]:
        _explorer(result, sigma2, extractor, head)
        _face_check(result, record)
    with tabs[2]:
        _validity(result, sigma2, record)
    with tabs[3]:
        _fusion(result, sigma2)
    with tabs[4]:
        _decoder(result, sigma2, extractor, head)


if __name__ == "__main__":
    state.run_page(main)
