"""See what a trained run learned: attributions (Captum), filters, feature maps, gate traces and projections.

- core.py: the Subject (which model is explained), integrated gradients, figures;
- views.py: the registry of views per input kind (keyed by the Preprocessing class);
- images.py, rows.py, text.py (+ gates.py), tables.py, series.py, embedding.py: each kind's views;
- api.py: `corenets inspect`, the report's "What it learned" and `POST /explain` call these;
- page.py: the HTML page and the report's figures.
"""
