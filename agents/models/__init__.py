"""Customer-base models: BG/NBD (who is still buying, how often) and Gamma-Gamma (how much).

Pure numerical code on numpy/scipy, fitted offline from a purchase history:

* :mod:`agents.models.history` reads ``customer_id,date,amount`` CSV or touchpoint JSONL and builds
  the per-customer summary ``(x, t_x, T, m_x)`` the models are fitted on (CDNOW conventions).
* :mod:`agents.models.bgnbd` — Fader, Hardie & Lee (2005), "Counting your customers the easy way":
  P(alive) and expected purchases in the next ``t`` periods.
* :mod:`agents.models.gamma_gamma` — Fader, Hardie & Lee (2005), "RFM and CLV": expected spend per
  transaction and a discounted customer lifetime value.
"""
