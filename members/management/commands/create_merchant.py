from django.core.management.base import BaseCommand, CommandError

from loyaltysite.errors import LoyaltyError
from members.services import merchant_create


class Command(BaseCommand):
    help = "Create a merchant (idempotent on the slug), optionally with an Owner login."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", help="Email of the Owner staff user to create or attach.")
        parser.add_argument(
            "--owner-password",
            help="Password for the Owner (without it the Owner must reset it: unusable password).",
        )

    def handle(self, *args, slug, name, owner=None, owner_password=None, **options):
        try:
            merchant, user = merchant_create(
                slug=slug, name=name, owner_email=owner, owner_password=owner_password
            )
        except LoyaltyError as error:
            raise CommandError(error.detail) from error
        self.stdout.write(f"Merchant {merchant.slug!r} ({merchant.name}) id={merchant.pk}")
        if user is not None:
            self.stdout.write(f"Owner: {user.username}")
