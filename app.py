"""facedash: the dashboard's entry point (``streamlit run app.py``).

Lists the pages with ``st.navigation``, draws the shared sidebar, runs the page.
"""

import streamlit as st

from facedash.i18n import _
from facedash.ui import classroom, lang, server

# Streamlit resets Keras after every run, which drops every traced TensorFlow function
# (3 s each to rebuild); the models here are shared by every session and built once.
server.keep_keras_session()

st.set_page_config(page_title="facedash", page_icon=":material/face:", layout="wide")
# The language first: every text of this run (page titles included) is drawn in it.
lang.start()

PAGES = [
    st.Page("pages/data.py", title=_("Data"), icon=":material/photo_library:", default=True),
    st.Page("pages/attention.py", title=_("Attention"), icon=":material/visibility:"),
    st.Page("pages/live.py", title=_("Live"), icon=":material/videocam:"),
    st.Page("pages/embedding_map.py", title=_("Embedding map"), icon=":material/scatter_plot:"),
    st.Page("pages/verification.py", title=_("Verification"), icon=":material/verified_user:"),
    st.Page("pages/uncertainty.py", title=_("Uncertainty"), icon=":material/blur_on:"),
    st.Page("pages/arithmetic.py", title=_("Arithmetic & search"), icon=":material/calculate:"),
]

# Classroom mode: a session without the access token gets the token page and nothing else
# (its language picker included: no sidebar at all).
classroom.gate(PAGES)
with st.sidebar:
    lang.picker()
from facedash.ui import state  # noqa: E402 (after the gate: no data layer for a session without it)

page = st.navigation(PAGES)
state.restore_wanted_page()
state.sidebar()
state.shell_started()
page.run()
