"""Past one machine: embedding a set on a Ray cluster (``facedash embed --engine ray``).

Imports everything before it (data, models, faces, analyses); nothing imports it but the app.
"""
