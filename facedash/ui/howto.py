"""Each page's "How to read this" panel: what the method computes, its formula, how to read the chart.

Kept apart from the page scripts so the pages stay layout only (and the texts sit in one place for
translation). The texts are marked with ``N_`` (the catalog holds each whole text, its formulas
verbatim); reading ``howto.DATA`` (or ``text("DATA")``) returns it in the language of the thread
that reads it, so a page shows it in the session's language.
"""

from facedash.i18n import N_, _

_DATA = N_(
    """
**What this page computes.** Each photo is searched for faces by **MTCNN** (three small
networks: proposals, refinement, then a box with five landmarks and a confidence).
The chosen face is rotated so the eyes are level, cropped with a margin and resized
to the model's input (160 x 160 for FaceNet), then prewhitened,
$x' = (x - \\mu) / \\max(\\sigma, 1/\\sqrt{N})$, and mapped to an embedding
$f(x) \\in \\mathbb{R}^{128}$ with $\\lVert f(x) \\rVert = 1$.

**How to read it.** Green boxes are the faces kept; red dots are eyes, nose and mouth
corners. Every photo that could not be used is in the table below with its reason.
Results are stored by the photo's content, so opening the same set again is instant.
"""
)

_ATTENTION = N_(
    r"""
**What is explained.** FaceNet maps an aligned face $x$ to a unit vector $e = f(x) \in \mathbb{R}^{128}$.
Every target here is a score linear in $e$: one channel $s = e_c$ (the channel with the largest
$|e_c|$ is the blog's reference), or a cosine similarity $s = e \cdot r / \lVert r \rVert$ to a
second face or to the person's mean embedding. The similarity of a face to *itself* cannot be
explained: $e$ is L2-normalised, so $\nabla_x\, e \cdot e = \nabla_x 1 = 0$.

**Methods.** With $A^k$ the $k$-th feature map of the chosen layer and $g^k = \partial s / \partial A^k$:
- Grad-CAM: $\sum_k \alpha_k A^k$ with $\alpha_k = \frac{1}{Z}\sum_{ij} g^k_{ij}$
  (tf-explain's version keeps only $g>0$ where $A>0$, and no ReLU; it is the reference);
- Grad-CAM++: $\alpha_k = \sum_{ij} a^k_{ij}\,\mathrm{relu}(g^k_{ij})$, $a = \frac{g^2}{2g^2 + \sum A\, g^3}$;
- HiResCAM: $\mathrm{relu}(\sum_k g^k \odot A^k)$; LayerCAM: $\mathrm{relu}(\sum_k \mathrm{relu}(g^k) \odot A^k)$;
- Occlusion: the drop $s(x) - s(x_{\text{patch greyed}})$, averaged over the patches covering a pixel;
- SmoothGrad: $\sum_c |\frac{1}{n}\sum_i \nabla s(x + \varepsilon_i)|$; Integrated Gradients:
  $|\sum_c x_c \cdot \frac{1}{m}\sum_k \nabla s(\tfrac{k}{m} x)|$ from the mean-grey image.

Deep layers (Block8, 3×3) are coarse; earlier ones (Block17 8×8, Block35 17×17) are finer.

**How to read the charts.** The heat is min-max scaled (red = most). *Regions*: the share of the
map's mass on the eyes, nose and mouth (discs and capsules around the five landmarks) and the rest
of the crop, beside each region's share of the area: a region matters if its mass share is well
above its area share. *Deletion curve*: pixels are greyed out most-salient first; if the map is
faithful the score falls faster than for a random order, so its area under the curve (AUC) is
smaller. *Randomization check*: the top blocks of the network are shuffled; a map that explains
the model must change (Spearman rank correlation below the bound).
"""
)

_EMBEDDING_MAP = N_(
    r"""
**What this page computes.** Every face is a point $x_i \in \mathbb{R}^{128}$ (its FaceNet
embedding, $\lVert x_i \rVert = 1$). The map squeezes the 128 dimensions into 2 or 3:

- **PCA** keeps the directions of largest variance: $y_i = W (x_i - \bar x)$, where the rows of
  $W$ are the top eigenvectors of the covariance matrix. It is linear, so distances along
  the axes are honest, but most of the 128 dimensions are dropped (the axis titles say how
  much variance is kept).
- **UMAP** builds a graph of each face's $n$ nearest neighbours and lays it out so that
  neighbours stay close; *neighbours* trades local for global structure, *min-dist* sets
  how tightly points may pack.
- **t-SNE** matches neighbour probabilities $p_{j|i} \propto \exp(-\lVert x_i - x_j\rVert^2 / 2\sigma_i^2)$
  in 128-d with Student-t probabilities in the plot; *perplexity* is roughly the number of
  neighbours each face attends to.

UMAP and t-SNE keep neighbourhoods, not distances: the size of a cluster and the gap
between two clusters mean little.

**KMeans** with $k$ clusters minimises $\sum_i \lVert z_i - \mu_{c(i)} \rVert^2$, either on the
projected points $z_i = y_i$ (what a PCA-then-KMeans tutorial does) or on the full
embeddings $z_i = x_i$. KMeans never sees the names; we then compare its clusters to the people:

- **Accuracy after matching**: each cluster is paired with at most one person so that the
  most faces agree (the Hungarian algorithm on the confusion matrix); accuracy is the share
  of faces on the matched diagonal.
- **ARI** (adjusted Rand index): agreement over all pairs of faces, 1 = same partition,
  about 0 = chance.
- **NMI**: $I(C;P) / \tfrac12 (H(C) + H(P))$, 1 = clusters determine people exactly.
- **Silhouette** (where KMeans ran): mean of $(b_i - a_i)/\max(a_i, b_i)$, with $a_i$ the mean
  distance to the face's own cluster and $b_i$ to the nearest other one.

**Uncertainty ellipses** (PCA only): a face with Gaussian embedding $N(x_i, \mathrm{diag}(\sigma_i^2))$
lands at $N(y_i, W\,\mathrm{diag}(\sigma_i^2)\,W^\top)$ in the plot; the ellipse is its 1-sigma contour.

**How to read the chart.** Each picture (or dot) is one face, framed in its person's or
cluster's colour. Click a face to list its nearest faces in the full 128-d space, with
distances ($\lVert x_i - x_j \rVert^2 = 2(1 - \cos\theta)$); or pick the lasso or box tool
(chart toolbar, top right) and drag over the map to see those faces below. Type a file
name to ring it in red.
"""
)

_VERIFICATION = N_(
    r"""
**What this page computes.** Every pair of faces gets a **score**: cosine similarity
$\cos(a, b) = \frac{a \cdot b}{\lVert a \rVert \lVert b \rVert}$ (higher means same person) or
Euclidean distance $\lVert a - b \rVert$ (lower means same). A **threshold** $t$ turns the
score into a decision: "same" when $s \ge t$ (similarity) or $s \le t$ (distance).
Genuine pairs (same person) that are accepted are true accepts (TP), rejected ones false
rejects (FN); impostor pairs (different people) that are accepted are false accepts (FP).

- $\mathrm{TAR} = \mathrm{recall} = \frac{TP}{TP + FN}$, $\mathrm{FAR} = \frac{FP}{FP + TN}$,
  $\mathrm{FRR} = 1 - \mathrm{TAR}$, $\mathrm{precision} = \frac{TP}{TP + FP}$,
  $F_1 = \frac{2\,TP}{2\,TP + FP + FN}$, accuracy $= \frac{TP + TN}{\text{all pairs}}$.

**ROC.** Each threshold is one point (FAR, TAR); sliding it from strict to loose traces the
curve from (0, 0) to (1, 1). The **AUC** (area under it) is the chance that a random genuine
pair scores as "more same" than a random impostor pair: 1 is perfect, 0.5 is a coin.
**TAR at FAR = 1%** is how many genuine pairs pass when only 1% of impostors may.

**EER** (equal error rate) is where FAR = FRR: one number for how well the two score
distributions separate, at the threshold where both error kinds are equally frequent.

**F1** is the harmonic mean of precision and recall. Its maximum is a data-driven threshold
when both error kinds cost alike; when a false accept costs more (unlocking a phone), pick
the threshold for a target FAR instead.

**How to read the charts.** The slider moves the black marker on every chart at once and
updates the confusion matrix. Crosses and dashed lines mark the model's **published default**
threshold, so you see how far it sits from this data's optimum. The histograms show how
much the genuine (green) and impostor (red) scores overlap: every pair on the wrong side of
the line is an error, listed worst first below as image pairs. Intervals come from a
bootstrap over **people** (not pairs: pairs of one person are not independent).

**Words.** Biometric reports (ISO/IEC 19795-1, NIST FRVT) say **FMR** (false match rate) for
FAR and **FNMR** (false non-match rate) for FRR: FMR = FAR, FNMR = FRR = 1 − TAR. **FTA**
(failure to acquire) is the share of photos in which no face was found; the **transaction**
rates count such a photo's genuine pairs as false non-matches and its impostor pairs as true
non-matches. A **DET** curve draws FNMR against FMR on normal-deviate axes (ticks name the
rates), where the low-error corner is spread out and Gaussian scores give a straight line.

**Which numbers are in-sample.** The live threshold, the max-F1 and EER thresholds and every
figure at them are chosen and scored on the **same** pairs: the best that threshold will ever
look. **Development → evaluation** is not: the threshold is chosen on one split's pairs (a target
FMR: the most lenient threshold whose development FMR does not exceed it; the EER; max F1; or
the least $C \cdot \mathrm{FMR} + \mathrm{FNMR}$) and its FMR, FNMR, precision, F1 and accuracy
are counted on another split's pairs, with a bootstrap interval over that split's people. The
evaluation split's own optimum is shown beside it: the gap is the lesson.
"""
)

_UNCERTAINTY = N_(
    r"""
**What this page computes.** Probabilistic Face Embeddings (Shi & Jain, ICCV 2019) treat a face
not as a point but as a Gaussian $\mathcal{N}(\mu, \operatorname{diag}(\sigma^2))$. The mean $\mu$ is
FaceNet's embedding, unchanged. The variance comes from a small **uncertainty head** (FC–BN–ReLU–FC–BN,
one shared scale and shift, output $\log\sigma^2$) that reads FaceNet's 1792-d pooled features,
just before its embedding layer. FaceNet stays frozen; only the head is trained, on pairs of
photos of the **same** person, to maximise their **mutual likelihood score**

$$\mathrm{MLS}(x_i,x_j) = -\frac{1}{2}\sum_{l=1}^{D}\left(\frac{(\mu_i^{(l)}-\mu_j^{(l)})^2}{\sigma_i^{2(l)}+\sigma_j^{2(l)}} + \log\left(\sigma_i^{2(l)}+\sigma_j^{2(l)}\right)\right) - \text{const}.$$

A pair that lies far apart can only keep a good score by raising $\sigma^2$, so the head learns to give
large variances to inputs whose embedding is unreliable: blurred, tiny, noisy, covered or dark faces.

**Confidence.** The paper ranks faces by the harmonic mean of $\sigma^2$ over dimensions; we show
$\text{confidence} = 1/\mathrm{HM}(\sigma^2) = \frac{1}{D}\sum_l 1/\sigma^{2(l)}$ (the mean precision): larger is surer.

**Fusion** of $n$ photos of one person, per dimension:
$\frac{1}{\sigma^2_{\text{fused}}} = \sum_i \frac{1}{\sigma^2_i}$ and
$\mu_{\text{fused}} = \sum_i \frac{\sigma^2_{\text{fused}}}{\sigma^2_i}\mu_i$ — sharp photos count more.

**How to read the charts.** *Dilemma*: as both faces of a pair are degraded, impostor cosine scores rise
towards genuine ones (low-quality faces look alike); MLS also pays for the growing $\sigma^2$.
*Risk control*: reject the lowest-quality x% of faces and measure the true-accept rate at a fixed
false-accept rate; a good quality score climbs faster. *Decoder samples*: a decoder maps an embedding
back to a 64×64 face; samples drawn from $\mathcal{N}(\mu,\sigma^2)$ (re-normalised to the unit sphere)
look alike when $\sigma^2$ is small and vary when it is large. The figures of the head's record (the
*dilemma*, the held-out *risk control*, the held-out AUC) are measured on **held-out people** the
head never saw. The curves and crops of *this set* (its own risk-control curve and *Clean, blurred,
not a face*) score faces the head may have been trained on (the demo's head was trained on every
demo person): they are **in-sample**.

**What is not a face.** PFE's loss only ever sees pairs of faces, so on its own the head can be as
sure of a noise patch or a wall as of a sharp face. The head therefore carries a *face check*: a face
score $s = \ell_{\text{FaceNet}} + \ell_{\text{ONet}}$, the sum of a logistic face logit on the same
pooled features (fitted on faces, clean and degraded, against noise, flat colours, textures and
background crops of the set's photos) and the face logit of MTCNN's own ONet on the crop. A crop
with $s \ge 3$ keeps its PFE variance; below, $\log\sigma^2$ grows by $10\,(3 - s)$ (at most 30), so
its confidence falls far below any face's. *Clean, blurred, not a face* shows a few faces sharp
and blurred (σ = 6 px) next to non-face crops: every non-face should sit under the dashed line.

**Kept for later.** σ² of every face of a set is computed once per set and head (a progress bar
the first time) and kept in the asset folder, keyed by the set's faces and the head's weights: a
later session or a restarted server reads it at once. Private uploads are kept in memory only.
"""
)

_ARITHMETIC = N_(
    """
**What this page computes.** Every face is an embedding $f(x) \\in \\mathbb{R}^{128}$ with
$\\lVert f(x) \\rVert = 1$. A **group vector** sums up a group of faces (one person, or one
attribute value such as an expression): either the per-dimension **median**, made
non-negative and L2-normalised, $v_G = \\max(\\mathrm{median}_{i \\in G} f(x_i), 0) / \\lVert\\cdot\\rVert$
(what the reference JAFFE experiment did), or the **mean**, L2-normalised.

**The arithmetic.** The query "person + attribute" is $q = (v_P + v_A) / \\lVert v_P + v_A \\rVert$;
"image − A + B" is $q = (f(x) - v_A + v_B) / \\lVert\\cdot\\rVert$. The index returns the faces
with the highest cosine similarity $\\cos(q, f(x_j)) = q \\cdot f(x_j)$; the distance shown is
$1 - \\cos$. A result is **right** (green frame) when it has both the person and the
attribute asked for. **Top-1** is the share of all person × attribute queries whose nearest
face is right, **top-5** the share with a right face among the five nearest.

**The index.** *Exact* compares the query with every face (a matrix product). *NGT* walks a
neighbourhood graph and visits only part of the set: much faster on large sets, and
occasionally it misses a true neighbour (its *recall* is below 1).

**The triplet head.** FaceNet's 128-d embedding was trained to ignore how a photo was taken,
so it hardly sees grayscale, darkness or blur. The head reads an earlier layer where those
survive: by default the mid-level block `Block17_10` of the frozen network, averaged over its
8 × 8 positions (896 numbers per face). It is a linear map
$g(x) = (\\tilde x W + b)/\\lVert\\cdot\\rVert$ of the standardised features $\\tilde x$, started at
their principal axes and trained with the triplet loss
$\\max(0, d(a, p) - d(a, n) + m)$ where a positive $p$ shares the person *or* the attribute with
the anchor $a$ and a negative $n$ shares neither, $d = 2 - 2\\cos$, margin $m = 0.2$. It is
trained on about 70% of the source photos and scored on the other 30%, so the table is not
flattered by faces the head has seen: *plain embedding* is before, *features, no head* the
standardised features alone, *triplet head* after. Once it is trained, "Search in" runs the
arithmetic above in the head's space (there the whole set is used, training photos included).

**Bounded work.** "Image − A + B" has one query per face and other attribute value; above
2,000 of them a seeded sample of 2,000 is scored (the caption says how many of how many).
Face search scores at most 2,000 probes, each against every face.

**Face search.** Each face is used as a query against all the others. Its rank is the
position of the first face of the same person; **rank-1** and **rank-5** are the shares of
queries with a mate at rank 1 or within 5, and the **CMC curve** shows that share for every
rank $r$.

**The demo set's attributes are synthetic.** Its photos have no expression labels, so the page
makes *photographic conditions* on purpose: each aligned face is turned grayscale, mirrored,
darkened (gamma 2.2) or blurred, and embedded again by the real model. FaceNet was trained to
ignore such changes (mirroring hardly moves an embedding), so these attributes are hard
for the arithmetic: that is a finding, not a bug.
"""
)

_TEXTS = {
    "DATA": _DATA,
    "ATTENTION": _ATTENTION,
    "EMBEDDING_MAP": _EMBEDDING_MAP,
    "VERIFICATION": _VERIFICATION,
    "UNCERTAINTY": _UNCERTAINTY,
    "ARITHMETIC": _ARITHMETIC,
}
NAMES = tuple(_TEXTS)


def text(name: str) -> str:
    """Page ``name``'s "How to read this" (``"DATA"``, ``"VERIFICATION"`` ...) in the thread's language."""
    return _(_TEXTS[name])


def __getattr__(name: str) -> str:
    """``howto.DATA`` and the others: the text in the language of the thread that reads it."""
    if name in _TEXTS:
        return text(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
