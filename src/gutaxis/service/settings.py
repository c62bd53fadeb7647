"""What the practice application is configured with: one frozen object, read once.

:class:`Settings` is made by the caller (the CLI, a test, a benchmark) and
handed to :func:`gutaxis.service.create_app`; nothing reads the environment
behind its back except :meth:`Settings.from_env`, which the CLI calls.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from gutaxis.exceptions import ValidationError

__all__ = ["Settings"]

#: The environment variable that switches the database (``postgresql+psycopg://…``).
DATABASE_URL_ENV = "GUTAXIS_DATABASE_URL"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """How one instance of the practice application runs.

    Parameters
    ----------
    data_dir : path
        The data folder: the SQLite database (unless ``database_url``), the
        content-addressed file store (``files/``), computed references and
        the job scratch space.
    database_url : str, optional
        A SQLAlchemy URL; default ``sqlite:///<data_dir>/gutaxis.sqlite3``.
    secure_cookies : bool
        Mark cookies ``Secure`` (behind HTTPS).  Off for ``127.0.0.1``.
    session_hours : float
        How long a session lasts from sign-in (activity does not extend it).
    lockout_failures, lockout_minutes : int
        After this many failed logins in a row an account is locked for this long.
    ip_failures_per_window : int
        Failed logins one client address may make in ``lockout_minutes``
        before its logins are refused (429) for the rest of the window.
    max_upload_bytes : int
        Larger uploads become a failed job without being stored.
    job_cpu_seconds, job_memory_bytes, job_wall_seconds, job_file_bytes : int
        Limits of the separate process that parses an upload or computes a
        profile (``RLIMIT_CPU``, ``RLIMIT_AS`` above the process's start,
        a wall-clock kill, ``RLIMIT_FSIZE``).
    job_lease_grace_seconds : int
        A claimed job's lease is ``job_wall_seconds`` plus this: after it a
        job whose server died is claimed again (on PostgreSQL, where several
        servers may share the queue; one SQLite server resets its own jobs at
        start).
    run_worker : bool
        Run the job worker inside the server process (a test may run it by hand).
    worker_poll_seconds : float
    demo : bool
        The instance shows a "demo data" banner on every page.
    n_boot : int
        Bootstrap replicates of each profile's intervals.
    portal_invite_days : int
        How long a patient's invitation link to the portal works (once).

    Raises
    ------
    ValidationError
        A limit that is not positive.
    """

    data_dir: Path = Path("gutaxis-data")
    database_url: str | None = None
    secure_cookies: bool = False
    session_hours: float = 12.0
    lockout_failures: int = 5
    lockout_minutes: int = 15
    ip_failures_per_window: int = 50
    max_upload_bytes: int = 256 * 1024 * 1024
    job_cpu_seconds: int = 120
    job_memory_bytes: int = 3 * 1024 ** 3
    job_wall_seconds: int = 180
    job_file_bytes: int = 1024 ** 3
    job_lease_grace_seconds: int = 60
    run_worker: bool = True
    worker_poll_seconds: float = 0.2
    demo: bool = False
    n_boot: int = 2000
    portal_invite_days: int = 7

    def __post_init__(self) -> None:
        """Resolve the data folder and check the limits."""
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser().absolute())
        for name in ("lockout_failures", "lockout_minutes", "ip_failures_per_window",
                     "max_upload_bytes", "job_cpu_seconds", "job_memory_bytes",
                     "job_wall_seconds", "job_file_bytes", "job_lease_grace_seconds",
                     "n_boot", "portal_invite_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValidationError(f"Settings.{name} must be a positive integer; "
                                      f"got {value!r}")
        if self.session_hours <= 0 or self.worker_poll_seconds <= 0:
            raise ValidationError("Settings.session_hours and worker_poll_seconds must be "
                                  "positive")

    @classmethod
    def from_env(cls, data_dir: str | os.PathLike[str] | None = None, **overrides: Any
                 ) -> Settings:
        """Make settings that take the database URL from ``GUTAXIS_DATABASE_URL``.

        Parameters
        ----------
        data_dir : path, optional
            The data folder (the default's when not given).
        **overrides
            Other fields; an explicit ``database_url`` here wins over the
            environment.

        Returns
        -------
        Settings
            With ``database_url`` ``None`` (SQLite in the data folder) when
            the variable is unset or empty.

        Examples
        --------
        >>> Settings.from_env("/tmp/clinic").files_dir.name
        'files'
        """
        url = os.environ.get(DATABASE_URL_ENV) or None
        fields: dict[str, Any] = {"database_url": url, **overrides}
        if data_dir is not None:
            fields["data_dir"] = Path(data_dir)
        return cls(**fields)

    def to_json(self) -> str:
        """Write the settings as JSON (how ``gutaxis serve --workers`` hands them on).

        Examples
        --------
        >>> s = Settings(data_dir="/tmp/clinic", n_boot=500)
        >>> Settings.from_json(s.to_json()) == s
        True
        """
        fields = dataclasses.asdict(self)
        fields["data_dir"] = str(self.data_dir)
        return json.dumps(fields)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """Read settings that :meth:`to_json` wrote."""
        return cls(**json.loads(text))

    @property
    def url(self) -> str:
        """The database URL in use (the SQLite file in the data folder by default)."""
        return self.database_url or f"sqlite:///{self.data_dir / 'gutaxis.sqlite3'}"

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file in use (None: another database, or SQLite in memory).

        Examples
        --------
        >>> Settings(data_dir=Path("/srv/d")).sqlite_file
        PosixPath('/srv/d/gutaxis.sqlite3')
        >>> Settings(database_url="sqlite:////srv/x.db").sqlite_file
        PosixPath('/srv/x.db')
        >>> Settings(database_url="postgresql+psycopg://u@h/db").sqlite_file is None
        True
        """
        from sqlalchemy.engine import make_url

        url = make_url(self.url)
        if url.get_backend_name() != "sqlite" or not url.database \
                or url.database == ":memory:":
            return None
        return Path(url.database)

    @property
    def files_dir(self) -> Path:
        """The content-addressed store of uploads and computed files."""
        return self.data_dir / "files"

    @property
    def references_dir(self) -> Path:
        """Built reference cohorts, one folder each."""
        return self.data_dir / "references"

    @property
    def secret_key_file(self) -> Path:
        """The key the second factor's secrets are sealed with (made at first start, mode 600)."""
        return self.data_dir / "secret.key"

    @property
    def scratch_dir(self) -> Path:
        """Where jobs and uploads write before a file is kept (same file system as the store)."""
        return self.data_dir / "scratch"
