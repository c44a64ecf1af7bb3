# The key member-owned rows reference for their merchant and program (PostgreSQL): see
# loyaltysite.migration_ops.AnchorToMember.

from django.db import migrations

from loyaltysite.migration_ops import AddMemberTenantKey


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0007_program_language_and_labels'),
    ]

    operations = [
        AddMemberTenantKey(),
    ]
