"""The patient's record: patients, visits (with versions), outcome diary, reports.

Layers: :mod:`~visualizer.records.db` (engine, migrations) → :mod:`~visualizer.records.models`
(tables) → :mod:`~visualizer.records.rules` (pure checks) → :mod:`~visualizer.records.service`
(the operations the CLI and the app call) → :mod:`~visualizer.records.report` (PDF) and
:mod:`~visualizer.records.cli` (the command line). Nothing here imports trame.
"""
