"""Pure plotly figure builders (data in, figure out), one module per page."""
