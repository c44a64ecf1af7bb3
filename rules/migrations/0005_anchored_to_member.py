# A member-owned row's merchant and program are its member's: one foreign key to the member's
# (id, program, merchant) key on PostgreSQL instead of three plain ones (AnchorToMember).

import django.db.models.deletion
from django.db import migrations, models

from loyaltysite.migration_ops import AnchorToMember


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0008_member_tenant_key'),
        ('rules', '0004_fk_indexes_covered'),
    ]

    operations = [
        AnchorToMember(
            model_name='award',
            fields={
                'member': models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='awards', to='members.member', verbose_name='member'),
                'merchant': models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.merchant', verbose_name='merchant'),
                'program': models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.program', verbose_name='program'),
            },
        ),
        AnchorToMember(
            model_name='event',
            fields={
                'member': models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='members.member', verbose_name='member'),
                'merchant': models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.merchant', verbose_name='merchant'),
                'program': models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.program', verbose_name='program'),
            },
        ),
        AnchorToMember(
            model_name='order',
            fields={
                'member': models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='orders', to='members.member', verbose_name='member'),
                'merchant': models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.merchant', verbose_name='merchant'),
                'program': models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.program', verbose_name='program'),
            },
        ),
    ]
