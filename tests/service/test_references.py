"""A clinic's own reference, built from an uploaded cohort with a filter (owners only)."""

from __future__ import annotations

from pathlib import Path

from builders.practice import make_user, run_jobs, sign_in
from gutaxis import io as gio


def _files(data, metadata=True):
    files = {"table": ("table.biom", Path(data.table).read_bytes())}
    if metadata:
        files["metadata"] = ("sample-metadata.tsv", Path(data.metadata).read_bytes())
    return files


def test_owner_builds_a_reference_and_profiles_against_it(client, ctx):
    make_user(ctx, "A", "own@a.example", "owner")
    make_user(ctx, "A", "prac@a.example", "practitioner")
    data = gio.example_dataset()
    headers = sign_in(client, "prac@a.example")
    refused = client.post("/api/v1/references", data={"name": "mine"}, files=_files(data),
                          headers=headers)
    assert refused.status_code == 403
    client.cookies.clear()
    headers = sign_in(client, "own@a.example")
    no_meta = client.post("/api/v1/references",
                          data={"name": "mine", "where": "Subject == 'Patient'"},
                          files=_files(data, metadata=False), headers=headers)
    assert no_meta.status_code == 422
    assert no_meta.json()["error"]["fields"][0]["field"] == "metadata"
    made = client.post("/api/v1/references",
                       data={"name": "ME/CFS patients (test)", "where": "Subject == 'Patient'"},
                       files=_files(data), headers=headers)
    assert made.status_code == 202, made.text
    run_jobs(ctx)
    job = client.get(f"/api/v1/jobs/{made.json()['job']}").json()
    assert job["status"] == "done", job
    refs = {r["name"]: r for r in client.get("/api/v1/references").json()}
    assert refs["ME/CFS patients (test)"]["status"] == "done"
    assert refs["ME/CFS patients (test)"]["bundled"] is False
    assert refs["cfs-giloteaux-2016-controls"]["bundled"] is True
    # a visit profiled against the bundled reference, then against the clinic's own
    patient = client.post("/api/v1/patients", json={"name": "P"}, headers=headers).json()["id"]
    visit = client.post(f"/api/v1/patients/{patient}/visits", json={"visit_date": "2026-10-01"},
                        headers=headers).json()["id"]
    with open(data.table, "rb") as handle:
        client.post(f"/api/v1/visits/{visit}/uploads", data={"kind": "microbiome",
                                                              "sample": "ERR1331798"},
                    files={"file": ("table.biom", handle)}, headers=headers)
    run_jobs(ctx)
    first = client.get(f"/api/v1/visits/{visit}/profile").json()
    assert first["reference"]["name"] == "cfs-giloteaux-2016-controls"
    assert first["reference"]["n_samples"] == 39  # the study's controls
    again = client.post(f"/api/v1/visits/{visit}/profile",
                        json={"reference_id": refs["ME/CFS patients (test)"]["id"]},
                        headers=headers)
    assert again.status_code == 202
    assert client.get(f"/api/v1/visits/{visit}/profile").status_code == 202
    run_jobs(ctx)
    second = client.get(f"/api/v1/visits/{visit}/profile").json()
    assert second["reference"]["name"] == "ME/CFS patients (test)"
    assert second["reference"]["n_samples"] == 48  # the study's ME/CFS patients


def test_a_filter_that_selects_nothing_fails_the_job_with_the_readers_message(client, ctx):
    make_user(ctx, "A", "own@a.example", "owner")
    headers = sign_in(client, "own@a.example")
    made = client.post("/api/v1/references", data={"name": "none", "where": "Subject == 'X'"},
                       files=_files(gio.example_dataset()), headers=headers)
    run_jobs(ctx)
    job = client.get(f"/api/v1/jobs/{made.json()['job']}").json()
    assert job["status"] == "failed"
    assert "Subject == 'X'" in job["error"] and "/scratch/" not in job["error"]
    refs = {r["name"]: r for r in client.get("/api/v1/references").json()}
    assert refs["none"]["status"] == "failed" and refs["none"]["error"] == job["error"]


def test_a_filter_that_runs_code_fails_the_job_and_writes_nothing(client, ctx):
    # pandas runs a method call in a condition: an owner's filter wrote a file with the
    # server's rights (the database itself, overwritten, would have been one)
    make_user(ctx, "A", "own@a.example", "owner")
    headers = sign_in(client, "own@a.example")
    target = ctx.settings.data_dir / "written-by-a-filter.csv"
    made = client.post("/api/v1/references", files=_files(gio.example_dataset()),
                       data={"name": "code", "where": f"Subject.to_csv('{target}')"},
                       headers=headers)
    assert made.status_code == 202, made.text
    run_jobs(ctx)
    job = client.get(f"/api/v1/jobs/{made.json()['job']}").json()
    assert job["status"] == "failed"
    assert "may only compare metadata columns with values" in job["error"]
    assert "calls a function or method" in job["error"]
    assert not target.exists()
