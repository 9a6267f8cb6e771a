"""Customer-base models: BG/NBD (who is still buying, how often) and Gamma-Gamma (how much).

Pure numerical code on numpy/scipy, fitted offline from a purchase history:

* :mod:`agents.models.history` reads ``customer_id,date,amount`` CSV or touchpoint JSONL and builds
  the per-customer summary ``(x, t_x, T, m_x)`` the models are fitted on (CDNOW conventions).
* :mod:`agents.models.bgnbd` — Fader, Hardie & Lee (2005), "Counting your customers the easy way":
  P(alive) and expected purchases in the next ``t`` periods.
* :mod:`agents.models.gamma_gamma` — Fader, Hardie & Lee (2005), "RFM and CLV": expected spend per
  transaction and a discounted customer lifetime value.
"""

import os

# OpenBLAS, under numpy and scipy, starts a thread per core when it loads, and each spins for a few
# tenths of a second waiting for work: 0.19 s of CPU at the start of every process, on a core the
# worker or a replay could use. The models' arithmetic is element-wise over small arrays and never
# calls BLAS on anything large enough to share out, so one thread is enough. Set before numpy loads
# (this package is the only one that imports it); an explicit setting is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
