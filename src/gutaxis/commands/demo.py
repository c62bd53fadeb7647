"""``gutaxis demo``: the bundled ME/CFS study end to end — analysis, reference, one profile."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gutaxis.cohort import CohortParameters, FoldCallback
from gutaxis.commands._inputs import StepCallback
from gutaxis.commands.analyze import ANALYSIS_FILES, AnalysisOptions, AnalysisResult, run_analysis
from gutaxis.commands.profile import ProfileOptions, ProfileResult, run_profile
from gutaxis.commands.reference import ReferenceOptions, ReferenceResult, run_reference_build
from gutaxis.exceptions import ToolError
from gutaxis.outputs import output_folder

if TYPE_CHECKING:  # the command line starts without loading the readers
    from gutaxis import io as gio

__all__ = ["DemoResult", "run_demo", "DEMO_MARKERS", "DEMO_REFERENCE"]

#: The marker columns of the bundled study (units are in the column names).
DEMO_MARKERS = ("LPSpgml", "LBPugml", "sCD14ugml", "IFABPpgml")
#: The name of the reference the demo freezes from the study's controls.
DEMO_REFERENCE = "cfs-giloteaux-2016-controls"


@dataclasses.dataclass(frozen=True)
class DemoResult:
    """What the demo computed and wrote.

    Attributes
    ----------
    dataset : ExampleDataset
    analysis : AnalysisResult
    reference : ReferenceResult
    profile : ProfileResult
    patient : str
        The profiled sample: the study's first patient, by sample id.
    written : dict of str to Path
        ``results``, ``report``, ``reference``, ``profile/json`` …
    """

    dataset: gio.ExampleDataset
    analysis: AnalysisResult
    reference: ReferenceResult
    profile: ProfileResult
    patient: str
    written: dict[str, Path]


def run_demo(folder: str | os.PathLike[str], *, overwrite: bool = False,
             command: Sequence[str] | None = None, on_step: StepCallback | None = None,
             on_fold: FoldCallback | None = None,
             on_stage: Callable[[str], None] | None = None) -> DemoResult:
    """Analyse the bundled study, freeze its controls as a reference, profile its first patient.

    Each step writes as it goes (the profile reads the reference folder back,
    as a user's would): the analysis into ``folder``, the reference into
    ``folder/reference``, the profile into ``folder/profile``.

    Parameters
    ----------
    folder : path
    overwrite : bool, default False
        Replace an earlier demo's files.
    command : sequence of str, optional
        The command line, for provenance.
    on_step, on_fold : callable, optional
        Progress of the analysis.
    on_stage : callable, optional
        Called with ``"analysis"``, ``"reference"``, ``"profile"`` as each starts.

    Returns
    -------
    DemoResult
    """
    from gutaxis import io as gio

    data = gio.example_dataset()
    with output_folder(folder, owned=(*ANALYSIS_FILES, "reference", "profile"),
                       overwrite=overwrite, what="the demo") as out:
        if on_stage is not None:
            on_stage("analysis")
        analysis = run_analysis(AnalysisOptions(
            table=data.table, metadata=data.metadata, markers=DEMO_MARKERS, save_model=True,
            parameters=CohortParameters("Subject")), command=command, on_step=on_step,
            on_fold=on_fold)
        written = analysis.write(out, overwrite=True)
        if on_stage is not None:
            on_stage("reference")
        reference = run_reference_build(ReferenceOptions(
            table=data.table, metadata=data.metadata, name=DEMO_REFERENCE,
            where="Subject == 'Control'", markers=DEMO_MARKERS,
            classifier=written["model/combined"]))
        written.update(reference.write(out / "reference"))
        samples = analysis.analysis.study.samples
        assert samples is not None
        patient = sorted(str(s) for s in samples.index[samples["Subject"] == "Patient"])[0]
        if on_stage is not None:
            on_stage("profile")
        profile = run_profile(ProfileOptions(
            table=data.table, metadata=data.metadata, markers=DEMO_MARKERS, sample=patient,
            reference=out / "reference"))
        try:
            written.update({f"profile/{k}": v
                            for k, v in profile.write(out / "profile").items()})
            return DemoResult(data, analysis, reference, profile, patient, written)
        except ToolError as exc:  # no PDF: what was written stays, the error follows
            no_pdf = exc
    raise no_pdf
