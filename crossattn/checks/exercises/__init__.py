"""The exercises of each lab as data, one module per lab: ``labNN.py`` defines ``EXERCISES``.

:mod:`crossattn.checks.registry` finds every ``labNN.py`` here and reads its ``EXERCISES``, a tuple
of :class:`~crossattn.checks.registry.Exercise` in the lab's order. These modules import nothing but
the registry (no NumPy, no torch), so reading the registry is cheap.

To add lab NN's exercises: write ``labNN.py`` here (the exercises, their points, the names their
answers may use, and every hint by key), the checkers in ``crossattn/checks/labNN.py`` (raising
those keys with ``fail`` and ``diagnose``), and ``tests/checks/test_labNN.py`` (its table
``MISTAKES = {exercise id: {key: student-like function}}``, one entry per key). The tests then
check the rest: every key is raised by its table, every check cell of the lab calls the registered
checker, the reference passes and the stub fails.
"""
