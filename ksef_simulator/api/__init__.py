"""The KSeF API 2.0 as the simulator serves it, under /ksef-sim/v2 (and the legacy alias /ksef-sim/api/v2)."""
