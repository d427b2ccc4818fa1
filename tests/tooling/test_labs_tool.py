"""The lab runner's output clean-up (crossattn.tooling.labs)."""
import nbformat

from crossattn.tooling.labs import coalesce_streams


def test_consecutive_outputs_of_one_stream_merge_and_others_stay_apart():
    out = nbformat.v4.new_output
    cell = nbformat.v4.new_code_cell("print('a'); print('b')")
    cell.outputs = [out("stream", name="stdout", text="✓ a"), out("stream", name="stdout", text="\n"),
                    out("stream", name="stderr", text="warn\n"), out("stream", name="stdout", text="b\n")]
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text")])
    coalesce_streams(nb)
    assert [(o.name, o.text) for o in nb.cells[0].outputs] == [("stdout", "✓ a\n"), ("stderr", "warn\n"), ("stdout", "b\n")]
    assert "outputs" not in nb.cells[1]
