"""Write the seeded per-case tables that parity.R reads (run once; outputs are committed).

Values are rounded to 2 decimals so that ties and zero differences occur, as in real data.
"""

import numpy as np
import pandas as pd

rng = np.random.default_rng(2017)
rows = []
for table in range(3):
    n_teams, n_cases = 4 + table, 12 + 6 * table
    for t in range(n_teams):
        skill = 0.55 + 0.05 * t * (table + 1) / 3
        for c in range(n_cases):
            rows.append({
                "table": table, "team": f"T{t}", "case": f"c{c:02d}",
                "dice": round(float(np.clip(skill + rng.normal(0, 0.12), 0, 1)), 2),
                "h95": round(float(abs(12 * (1 - skill) + rng.normal(0, 2))), 1),
            })
frame = pd.DataFrame(rows)
# a few missing values in the last table (rank-then-aggregate ranks them last)
last = frame.index[frame["table"] == 2]
frame.loc[rng.choice(last, size=6, replace=False), "dice"] = np.nan
frame.to_csv("cases.csv", index=False, na_rep="NA")
