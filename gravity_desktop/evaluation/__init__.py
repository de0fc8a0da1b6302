"""The evaluation harness: simulated readers, the compared methods, independent judges, metrics.

`gravity eval` (docs/evaluation.md) samples readers per country, gives each one its own data root
under the output folder (never the real reader's), synthesizes pairs, trains adapters, describes
held-out books with every method, lets judges that never saw the generation prompts compare the
descriptions, and writes report.md, results.json and charts.
"""
