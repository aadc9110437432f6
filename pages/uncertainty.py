"""Uncertainty page: Probabilistic Face Embeddings — each face as a Gaussian N(mu, sigma^2)."""

import numpy as np
import streamlit as st

from facedash.figures import uncertainty as fig
from facedash.i18n import _
from facedash.pfe import analysis
from facedash.pfe import decoder as dec
from facedash.ui import classroom, howto, pfe_models, state, widgets
from facedash.ui import data as UD
from facedash.ui import pfe as pfe_ui
from facedash.ui import quality as quality_ui

KNOBS = ("blur", "downscale", "jpeg", "noise", "occlusion", "darkness")


def _train_head(result) -> None:
    bar = st.progress(0.0, text=_("Preparing ..."))
    st.button(
        _("Stop training"), key="uncertainty_stop", help=_("Stops at once; nothing is saved.")
    )

    def report(done: int, total: int, message: str) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=message)

    head = pfe_ui.train_head(result, report)
    bar.empty()
    st.success(_("Trained in {seconds} s.").format(seconds=f"{head.record['seconds']:.0f}"))


def _train_decoder(result) -> None:
    bar = st.progress(0.0, text=_("Preparing ..."))

    def report(done: int, total: int, message: str) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=message)

    pfe_ui.train_decoder(result, report)
    bar.empty()


def _ranking(result, sigma2, trained_at: str) -> None:
    figure, conf, order = pfe_ui.ranking(result, sigma2, trained_at)
    st.plotly_chart(figure, key="uncertainty_rank_fig")
    n = st.slider(_("Faces shown at each end"), 4, 16, 8, key="uncertainty_rank_n")
    for title, idx in ((_("Most certain"), order[:n]), (_("Least certain"), order[::-1][:n])):
        st.markdown(f"**{title}**")
        cols = st.columns(n)
        for col, i in zip(cols, idx, strict=False):
            if result.thumbs[i] is not None:
                col.image(result.thumbs[i], width="stretch")
                col.caption(f"{result.rows[i].person}\n\n{conf[i]:.0f}")


def _explorer(result, sigma2, extractor, head) -> None:
    rows = result.rows
    i = st.selectbox(
        _("Face"),
        pfe_ui.face_options(len(rows)),
        format_func=lambda k: f"{rows[k].person} · {rows[k].name}",
        key="uncertainty_face",
    )
    cols = st.columns(3)
    strengths = {
        k: cols[n % 3].slider(pfe_ui.label(k), 0.0, 1.0, 0.0, 0.05, key=f"uncertainty_{k}")
        for n, k in enumerate(KNOBS)
    }
    crop = UD.face_crop(result, i)
    out = pfe_ui.explore(result, i, strengths, extractor, head)
    a, b, c = st.columns([1, 1, 2])
    a.image(crop, caption=_("clean"), width="stretch")
    b.image(out["image"], caption=_("degraded"), width="stretch")
    with c:
        m1, m2 = st.columns(2)
        m1.metric(
            _("confidence"),
            f"{out['confidence']:.0f}",
            f"{out['confidence'] - out['confidence_clean']:+.0f}",
        )
        m2.metric(_("mean σ²"), f"{out['sigma2'].mean():.5f}")
        m1.metric(_("cosine to the clean face"), f"{out['cosine']:.3f}")
        m2.metric(
            _("MLS to the clean face"),
            f"{out['mls']:.1f}",
            help=_("MLS of the clean face with itself: {value}").format(
                value=f"{out['mls_self']:.1f}"
            ),
        )
    st.plotly_chart(
        fig.sigma_profile(out["sigma2_clean"], out["sigma2"]), key="uncertainty_profile_fig"
    )


def _face_check(result, record) -> None:
    st.subheader(_("Clean, blurred, not a face"))
    out = pfe_ui.face_check(result, record["trained_at"])
    if out["score"] is None:
        st.info(
            _(
                "This head has no face check: a crop without a face can look as certain as a "
                "face. Train the head again (Training, above) to add one."
            )
        )
    labels = [f"{result.rows[i].person} · {i}" for i in out["faces"]]
    st.plotly_chart(
        fig.face_check(labels, out["clean"], out["blurred"], out["nonface"], out["nonface_kinds"]),
        key="uncertainty_face_check_fig",
    )
    cols = st.columns(3)
    cols[0].metric(_("lowest blurred face"), f"{out['blurred'].min():.3g}")
    cols[1].metric(_("highest non-face"), f"{out['nonface'].max():.3g}")
    ordered = f"{int(out['ordered'].sum())}/{len(labels)}"
    cols[2].metric(_("faces clean > blurred > non-face"), ordered)
    kinds = [pfe_ui.label(k) for k in out["nonface_kinds"]]
    st.image(list(out["nonface_crops"]), caption=kinds, width=72)


def _validity(result, sigma2, record) -> None:
    ho = record["heldout"]
    text = _(
        "Held out from training: **{people}** ({faces} photos × every degradation = {crops} crops)."
    )
    people = ", ".join(record["heldout_people"])
    st.markdown(text.format(people=people, faces=ho["faces"], crops=ho["crops"]))
    c = st.columns(4)
    c[0].metric(_("Spearman(strength, mean σ²)"), f"{ho['spearman_sigma_vs_degradation']:.2f}")
    c[1].metric(_("AUC cosine (clean vs degraded)"), f"{ho['auc_cosine']:.4f}")
    c[2].metric(_("AUC MLS (clean vs degraded)"), f"{ho['auc_mls']:.4f}")
    gain = ho["tar_gain_at_10pct_rejection"]
    c[3].metric(_("TAR gain at 10% rejected"), _("n/a") if gain != gain else f"{gain:+.3f}")
    st.plotly_chart(fig.sigma_vs_degradation(ho["sigma_curves"]), key="uncertainty_sigma_fig")
    st.subheader(_("The dilemma: scores as both faces degrade"))
    kind = st.selectbox(
        _("Degradation"),
        sorted(ho["dilemma"]),
        format_func=pfe_ui.label,
        key="uncertainty_dilemma_kind",
    )
    st.plotly_chart(fig.dilemma(ho["dilemma"][kind], kind), key="uncertainty_dilemma_fig")
    st.subheader(_("Risk control: reject the lowest-quality faces"))
    left, right = st.columns(2)
    left.plotly_chart(
        fig.risk_control(ho["risk_control"], ho["far"], _("held-out people + degraded copies")),
        key="uncertainty_risk_heldout",
    )
    far = right.select_slider(
        _("FAR on this set"), [0.001, 0.01, 0.05, 0.1], value=0.01, key="uncertainty_far"
    )
    curves = pfe_ui.set_risk_control(result, sigma2, record["trained_at"], far)
    right.plotly_chart(
        fig.risk_control(curves, far, _("this set (clean photos)")), key="uncertainty_risk_set"
    )


def _fusion(result, sigma2, trained_at: str) -> None:
    people = sorted(set(result.people.tolist()))
    person = st.selectbox(_("Person"), people, key="uncertainty_fuse_person")
    own = [i for i, r in enumerate(result.rows) if r.person == person][: pfe_ui.FACE_CHOICES]
    chosen = st.multiselect(
        _("Photos to fuse"),
        own,
        default=own[:3],
        format_func=lambda k: result.rows[k].name,
        key="uncertainty_fuse_photos",
    )
    if not chosen:
        st.info(_("Pick at least one photo."))
        return
    out = pfe_ui.fusion(result, sigma2, trained_at, chosen)
    cols = st.columns(min(len(chosen), 8))
    for col, k in zip(cols, chosen, strict=False):
        col.image(UD.face_crop(result, k), width="stretch")
    st.plotly_chart(
        fig.confidence_bars(
            [result.rows[k].name for k in chosen], out["confidence_each"], out["confidence_fused"]
        ),
        key="uncertainty_fuse_conf",
    )
    metric = st.radio(
        _("Score"),
        ["MLS", "cosine"],
        format_func=pfe_ui.label,
        horizontal=True,
        key="uncertainty_fuse_metric",
    )
    key = "mls" if metric == "MLS" else "cosine"
    fused, single = out[f"{key}_fused"], out[f"{key}_best"]
    st.plotly_chart(
        fig.fusion_scores(out["genuine"], fused, single, metric), key="uncertainty_fuse_fig"
    )
    a, b = st.columns(2)
    a.metric(_("confidence, fused"), f"{out['confidence_fused']:.0f}")
    b.metric(_("confidence, best single photo"), f"{out['confidence_each'].max():.0f}")
    a.metric(_("AUC, fused"), f"{analysis.separation_auc(fused, out['genuine']):.4f}")
    b.metric(_("AUC, best single photo"), f"{analysis.separation_auc(single, out['genuine']):.4f}")


def _decoder(result, sigma2, extractor, head, training) -> None:
    record = dec.read_decoder_record()
    if pfe_models.decoder_elsewhere(result, record):  # the decoder is FaceNet's only
        return
    if record is None:
        if training:  # the demo's, in the background: the note above says how far
            return
        st.info(_("No decoder is trained yet (about a minute on 2 CPU cores)."))
        allowed = classroom.saving_allowed()
        if not allowed:
            st.caption(_(pfe_ui.NO_SAVING))
        if st.button(_("Train the decoder"), key="uncertainty_train_decoder", disabled=not allowed):
            _train_decoder(result)
            st.rerun()
        return
    decoder = pfe_ui.decoder(record["trained_at"])
    st.caption(pfe_ui.decoder_caption(record))
    rows = result.rows
    i = st.selectbox(
        _("Face"),
        pfe_ui.face_options(len(rows)),
        format_func=lambda k: f"{rows[k].person} · {rows[k].name}",
        key="uncertainty_dec_face",
    )
    blur = st.slider(_("Blur the input first"), 0.0, 1.0, 0.0, 0.1, key="uncertainty_dec_blur")
    crop = UD.face_crop(result, i)
    if blur > 0:
        crop, mu, s2 = pfe_ui.degraded_gaussian(crop, blur, extractor, head, seed=i)
    else:
        mu, s2 = result.embeddings[i], sigma2[i]
    z = dec.samples(mu, s2, 15, seed=i)
    images = np.concatenate([decoder.decode(mu), decoder.decode(z)])
    a, b = st.columns([1, 4])
    a.image(crop, caption=_("input"), width="stretch")
    a.image(images[0], caption=_("decoded μ"), width="stretch")
    b.image(analysis.mosaic(images[1:], 5), caption=_("15 samples from N(μ, σ²)"), width="stretch")
    spread = f"{dec.sample_spread(images[1:]):.1f}"
    st.metric(_("spread of the samples (mean pixel std)"), spread)


def main() -> None:
    state.page_shell("pages/uncertainty.py")  # settles the language before _() below
    result = state.page_start("pages/uncertainty.py", _("Uncertainty"), howto.UNCERTAINTY)
    if result is None:
        return
    job = pfe_ui.demo_training(result)  # a demo without its head or decoder: trained once
    training = job is not None and not job["finished"]
    if job is not None:
        pfe_ui.demo_note(result, job)
    record = pfe_ui.head_record_for(result)  # this model's own head
    allowed = classroom.saving_allowed()
    with st.expander(_("Training"), expanded=record is None):
        if record is not None:
            st.caption(pfe_ui.head_caption(record))
            pfe_models.head_notes(record)  # the features it reads; a weak head is said
            st.plotly_chart(fig.loss_curve(record["losses"]), key="uncertainty_loss_fig")
        else:
            pfe_models.no_head_note(result, training)
        if not allowed:
            st.caption(_(pfe_ui.NO_SAVING))
        label = _("Train the uncertainty head on this set")
        if st.button(label, key="uncertainty_train", disabled=training or not allowed):
            _train_head(result)
            st.rerun()
    if record is None:
        quality_ui.section(result)  # the quality measures that need no head still apply
        return
    head = pfe_ui.head(record["trained_at"], result.model_id)
    extractor = pfe_ui.extractor(result.model_id)
    sigma2 = pfe_ui.set_sigma2(pfe_ui.set_key(result), record["trained_at"], result)
    pfe_models.compare_section(
        result, sigma2, training=training, allowed=allowed, train=_train_head
    )
    tabs = widgets.lazy_tabs(pfe_ui.TABS, key="uncertainty_tab")
    if tabs[0].open:
        with tabs[0]:
            _ranking(result, sigma2, record["trained_at"])
    if tabs[1].open:
        with tabs[1]:
            _explorer(result, sigma2, extractor, head)
            _face_check(result, record)
    if tabs[2].open:
        with tabs[2]:
            _validity(result, sigma2, record)
    if tabs[3].open:
        with tabs[3]:
            _fusion(result, sigma2, record["trained_at"])
    if tabs[4].open:
        with tabs[4]:
            _decoder(result, sigma2, extractor, head, training)
    quality_ui.section(result)


if __name__ == "__main__":
    state.run_page(main)
