from django.core.management.base import BaseCommand, CommandError

from customers.models import Segment
from customers.selectors import customers_targeted
from surveys import services
from surveys.models import Survey


class Command(BaseCommand):
    help = "Invite active customers (optionally one value segment) to a survey; the emails are sent by the worker."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--segment", help="value segment name")
        parser.add_argument("--limit", type=int, help="invite at most N customers")
        parser.add_argument("--dry-run", action="store_true", help="count who would be invited; send nothing")
        parser.add_argument(
            "--send-now", action="store_true", help="send in this process instead of queueing for the Celery worker"
        )

    def handle(self, *args, slug, segment=None, limit=None, dry_run=False, send_now=False, **options):
        survey = Survey.objects.filter(slug=slug).first()
        if survey is None:
            raise CommandError(f"No survey with slug {slug!r}.")
        segment_obj = None
        if segment:
            segment_obj = Segment.objects.filter(name=segment).first()
            if segment_obj is None:
                names = ", ".join(Segment.objects.values_list("name", flat=True)) or "none"
                raise CommandError(f"No segment named {segment!r} (segments: {names}).")
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1.")
        try:
            plan = services.invitations_create(
                survey=survey,
                customers=customers_targeted(segment=segment_obj),
                limit=limit,
                dry_run=dry_run,
                queue=not send_now,
            )
        except services.InvitationError as exc:
            raise CommandError(str(exc)) from exc
        verb = "would invite" if dry_run else "invited"
        self.stdout.write(
            f"{plan.targeted} customers targeted, {verb} {plan.invitable}, "
            f"skipped {plan.skipped} (contact policy, unsubscribed or no email)."
        )
        if send_now and plan.invitation_ids:
            retry = services.invitations_send_batch(invitation_ids=plan.invitation_ids)
            self.stdout.write(f"sent now; {len(retry)} failed transiently and stay queued.")
