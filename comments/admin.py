"""The taxonomy in the admin: every write goes through comments.services (which bumps the version)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Theme, ThemeSuggestion, ThemeTerm


class ThemeTermInline(admin.TabularInline):
    model = ThemeTerm
    extra = 1


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    list_display = ["name", "name_es", "active"]
    list_filter = ["active"]
    search_fields = ["name", "name_es", "terms__term"]
    inlines = [ThemeTermInline]

    def save_model(self, request, obj, form, change):
        if change:
            services.theme_update(theme=obj, name=obj.name, name_es=obj.name_es, active=obj.active)
        else:
            created = services.theme_create(name=obj.name, name_es=obj.name_es, active=obj.active)
            obj.pk = created.pk

    def save_formset(self, request, form, formset, change):
        for term in formset.save(commit=False):
            services.theme_term_add(theme=term.theme, language=term.language, term=term.term)
            if term.pk:  # an edited term: the old spelling goes
                services.theme_term_remove(term=term)
        for term in formset.deleted_objects:
            services.theme_term_remove(term=term)

    def delete_model(self, request, obj):
        services.theme_delete(theme=obj)


@admin.register(ThemeSuggestion)
class ThemeSuggestionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "language", "size", "status", "created_at"]
    list_filter = ["status", "language"]
    readonly_fields = ["language", "top_terms", "examples", "size", "status", "theme", "created_at"]
    actions = ["accept", "dismiss"]

    @admin.action(description=_("Accept as new themes (named after their top terms)"))
    def accept(self, request, queryset):
        for suggestion in queryset.filter(status=ThemeSuggestion.Status.OPEN):
            name = " / ".join(suggestion.top_terms[:2]).capitalize() or str(suggestion.pk)
            services.theme_suggestion_accept(suggestion=suggestion, name=f"{name} ({suggestion.language})")
        self.message_user(request, _("Accepted. Run comments_analyse --all to apply the new themes."), messages.SUCCESS)

    @admin.action(description=_("Dismiss"))
    def dismiss(self, request, queryset):
        for suggestion in queryset:
            services.theme_suggestion_dismiss(suggestion=suggestion)
