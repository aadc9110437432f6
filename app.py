"""facedash: the dashboard's entry point (``streamlit run app.py``).

Lists the pages with ``st.navigation``, draws the shared sidebar, runs the page.
"""

import streamlit as st

from facedash.ui import classroom

st.set_page_config(page_title="facedash", page_icon=":material/face:", layout="wide")

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/photo_library:", default=True),
    st.Page("pages/attention.py", title="Attention", icon=":material/visibility:"),
    st.Page("pages/embedding_map.py", title="Embedding map", icon=":material/scatter_plot:"),
    st.Page("pages/verification.py", title="Verification", icon=":material/verified_user:"),
    st.Page("pages/uncertainty.py", title="Uncertainty", icon=":material/blur_on:"),
    st.Page("pages/arithmetic.py", title="Arithmetic & search", icon=":material/calculate:"),
]

# Classroom mode: a session without the access token gets the token page and nothing else.
classroom.gate(PAGES)
from facedash.ui import state  # noqa: E402 (after the gate: no data layer for a session without it)

page = st.navigation(PAGES)
state.restore_wanted_page()
state.sidebar()
state.shell_started()
page.run()
