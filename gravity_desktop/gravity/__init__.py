"""The GRAVITY method: profile-grounded scenarios, preference-pair synthesis, filters, baselines."""
