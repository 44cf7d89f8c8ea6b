"""The application layer: one module per command.

Each pipeline is the only place that loads a command's inputs, calls the domain packages
(``metrics``, ``io``, ``scoring``, ``ranking``, ``analysis``, ``plots``, ``report``), and
opens and writes the command's one output set (:func:`wmheval.io.outputs.output_set`).
The command line (:mod:`wmheval.cli`) parses arguments and calls one pipeline function;
library users can call the same functions. See ``docs/architecture.md``.

==========================  ===========================================================
module                      command
==========================  ===========================================================
:mod:`.score`               ``wmheval score``
:mod:`.rank`                ``wmheval rank``
:mod:`.sensitivity`         ``wmheval sensitivity``
:mod:`.report`              ``wmheval report``
:mod:`.agreement`           ``wmheval agreement``
:mod:`.baselines`           ``wmheval baseline train|predict|threshold`` (the plug-in point
                            of the optional ``wmheval_baselines`` package)
:mod:`.demo`                ``wmheval demo``
:mod:`.platforms`           ``wmheval platform-run grand-challenge|codabench`` and
                            ``wmheval export grand-challenge|codabench``
==========================  ===========================================================
"""
