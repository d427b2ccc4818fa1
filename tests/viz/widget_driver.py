"""Build every widget the course ships, move each of its controls, and print what it shows.

Run by tests/viz/test_widgets.py with the Python of each ipywidgets line (8 here, 7.7.1 in a small
virtual environment). Prints one JSON object: the ipywidgets version and, per widget, the
readout before and after each control is moved.
"""
import json

import ipywidgets
import matplotlib

matplotlib.use("Agg")

from crossattn.viz.widgets import all_widgets  # noqa: E402

report = {"ipywidgets": ipywidgets.__version__, "widgets": {}}
for entry in all_widgets():
    widget = entry.make()
    readouts = [widget.readout.value]
    for control in widget.controls:
        # A log slider's min and max are exponents of its base; other sliders hold plain values.
        to_value = (lambda e: control.base ** e) if hasattr(control, "base") else (lambda e: e)
        top, bottom = to_value(control.max), to_value(control.min)
        control.value = top if control.value != top else bottom
        readouts.append(widget.readout.value)
    report["widgets"][entry.name] = readouts
print(json.dumps(report))
