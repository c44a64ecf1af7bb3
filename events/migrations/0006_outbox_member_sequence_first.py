# The member's unique (member, sequence) index leads with the member, so it also serves the
# member's foreign key, whose own index goes: one index fewer for every event written.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0005_outbox_fewer_indexes'),
        ('members', '0007_program_language_and_labels'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='outboxevent',
            name='events_outbox_member_sequence_unique',
        ),
        migrations.AlterField(
            model_name='outboxevent',
            name='member',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='members.member', verbose_name='member'),
        ),
        migrations.AddConstraint(
            model_name='outboxevent',
            constraint=models.UniqueConstraint(condition=models.Q(('member__isnull', False)), fields=('member', 'sequence', 'merchant'), name='events_outbox_member_sequence_unique'),
        ),
    ]
