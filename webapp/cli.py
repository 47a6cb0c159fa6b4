"""Flask commands: `demo` loads a demo organization; `push keys|tick|run` run the push dispatcher;
`export-org` and `import-org` move an organization between servers."""
import json
import sys
from datetime import timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from webapp.clock import local_today
from webapp.extensions import db
from webapp.models import User
from webapp.services import items, people

DEMO_PASSWORD = "plate-demo-2026"
DEMO_TEAM = [
    # name, email, zone
    ("Dana Whitfield", "dana@demo.plate.test", "Europe/London"),
    ("Ravi Menon", "ravi@demo.plate.test", "Asia/Kolkata"),
    ("Lucía Ortega", "lucia@demo.plate.test", "America/Mexico_City"),
    ("Sam Becker", "sam@demo.plate.test", "Europe/Berlin"),
]
DEMO_ITEMS = [
    # owner index, creator index, title, priority, due in days, urgent
    (1, 0, "Update Q4 pipeline in the CRM — finance needs the forecast", "high", 2, True),
    (1, 1, "Follow up with Tata Motors fleet buyer", "normal", 1, False),
    (1, 1, "Send revised quote to Infosys Pune office", "normal", 4, False),
    (1, 0, "Prepare account plan for Wipro renewal", "low", 10, False),
    (2, 0, "Update Q4 pipeline in the CRM — finance needs the forecast", "high", 2, True),
    (2, 2, "Demo for Cemex procurement team", "high", 0, False),
    (2, 2, "Log expenses from Monterrey trip", "low", -2, False),
    (3, 0, "Update Q4 pipeline in the CRM — finance needs the forecast", "high", 2, True),
    (3, 3, "Call back Siemens Healthineers about pricing", "normal", 1, False),
    (3, 3, "Book travel for the Hamburg trade fair", "normal", 7, False),
    (0, 3, "Approve discount for Siemens deal (over 15%)", "high", 1, False),
    (0, 0, "Write team goals for next quarter", "normal", 14, False),
]


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load a demo organization: a manager and three field reps in different time zones."""
    manager_name, manager_email, manager_zone = DEMO_TEAM[0]
    if db.session.scalar(select(User).where(User.email == manager_email)):
        click.echo("The demo organization is already loaded.")
    else:
        manager = people.create_organization(db.session, {
            "name": "Northwind Field Sales",
            "admin": {"name": manager_name, "email": manager_email, "password": DEMO_PASSWORD, "time_zone": manager_zone},
        })
        db.session.flush()
        team = [manager]
        for name, email, zone in DEMO_TEAM[1:]:
            person = people.User(organization=manager.organization, name=name, email=email, time_zone=zone,
                                 password_hash=manager.password_hash, manager_id=manager.id)
            db.session.add(person)
            team.append(person)
        db.session.flush()
        for owner, creator, title, priority, due_in, urgent in DEMO_ITEMS:
            due = local_today(team[owner].time_zone) + timedelta(days=due_in)
            items.add_item(db.session, team[creator], {
                "owner_id": team[owner].id, "title": title, "priority": priority, "due_on": due, "urgent": urgent,
            })
        db.session.commit()
        click.echo("Loaded the demo organization 'Northwind Field Sales'.")
    click.echo(f"Log in as the manager: {manager_email} / {DEMO_PASSWORD}")
    click.echo("Or as a field rep: " + ", ".join(email for _, email, _ in DEMO_TEAM[1:]) + " (same password)")


@click.group("push")
def push_group() -> None:
    """Web Push: VAPID keys and the digest dispatcher."""


@push_group.command("keys")
@with_appcontext
def push_keys_command() -> None:
    """Create instance/vapid_private.pem unless a key is configured or exists; print the public key."""
    from flask import current_app

    from webapp.notifications.keys import application_server_key, ensure_instance_key, load_vapid

    if not current_app.config.get("PLATE_VAPID_PRIVATE_KEY"):
        ensure_instance_key(current_app.instance_path)
    click.echo(f"VAPID public key: {application_server_key(load_vapid(current_app))}")


@push_group.command("tick")
@with_appcontext
def push_tick_command() -> None:
    """One dispatcher pass: due reminders, due digests, due deliveries."""
    from flask import current_app

    from webapp.notifications import dispatcher

    report = dispatcher.tick(current_app._get_current_object(), name="cli")
    click.echo(f"{report.reminders} reminders, {report.digests} digests, {report.sent} sends {report.outcomes or ''}")


@push_group.command("run")
@click.option("--interval", default=15.0, show_default=True, help="seconds between passes")
@with_appcontext
def push_run_command(interval: float) -> None:
    """Dispatch pass after pass until stopped (Ctrl-C or SIGTERM)."""
    import signal
    import threading

    from flask import current_app

    from webapp.notifications import dispatcher

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"Dispatching every {interval:.0f} s; Ctrl-C stops.")
    try:
        dispatcher.run(current_app._get_current_object(), interval, stop, name="cli")
    except KeyboardInterrupt:
        pass


@click.command("export-org")
@click.argument("organization_id", type=int)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="file to write (default: stdout)")
@with_appcontext
def export_org_command(organization_id: int, output: str | None) -> None:
    """Write everything of one organization as JSON (it holds password hashes: keep it as safe as the database)."""
    from webapp.services import transfer
    from webapp.services.errors import DomainError

    try:
        document = transfer.export_organization(db.session, organization_id)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    with click.open_file(output, "w", encoding="utf-8", atomic=True) as file:
        file.write(text)
    counts = ", ".join(f"{len(rows)} {name}" for name, rows in document["tables"].items())
    click.echo(f"Wrote organization {organization_id} to {output}: {counts}.", err=True)


@click.command("import-org")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@with_appcontext
def import_org_command(file) -> None:
    """Restore an organization written by export-org, with its ids, into an empty, migrated database."""
    from webapp.services import transfer
    from webapp.services.errors import DomainError

    try:
        document = json.load(file)
        organization = transfer.import_organization(db.session, document)
        db.session.commit()
    except (DomainError, ValueError, KeyError, TypeError) as error:
        db.session.rollback()
        message = error.message if isinstance(error, DomainError) else f"This file is not an export-org document: {error}"
        raise click.ClickException(message) from None
    click.echo(f"Imported organization {organization.id} ({organization.name}).")
