"""Every form field rendered with the U.S. Web Design System's classes, wherever it is rendered.

Pages render fields through workspace/field.html, `form.as_p` and hand-written markup alike; giving each widget
its USWDS class here, where Django renders every widget, keeps them the same without a class list in each form.
Checkbox and radio options get the USWDS markup from templates/django/forms/widgets/input_option.html.
"""

from __future__ import annotations

from typing import Any

from django.forms.renderers import TemplatesSetting

# Widget template (Django's) -> the USWDS class of its control.
_BY_TEMPLATE = {
    "django/forms/widgets/select.html": "usa-select",
    "django/forms/widgets/textarea.html": "usa-textarea",
}
# Input types that keep the browser's own look or are styled by their own USWDS markup.
_INPUT_CLASS = {"checkbox": "usa-checkbox__input", "radio": "usa-radio__input", "hidden": "", "file": ""}


def uswds_class(widget: dict[str, Any]) -> str:
    """The USWDS class for a widget's context (empty for a hidden input or a file input)."""
    template = widget.get("template_name", "")
    if template in _BY_TEMPLATE:
        return _BY_TEMPLATE[template]
    input_type = widget.get("type")
    if input_type is None:  # a widget of several inputs (dates split in parts, checkbox lists): each part has its own
        return ""
    return _INPUT_CLASS.get(input_type, "usa-input")


def _add_class(attrs: dict[str, Any], name: str) -> dict[str, Any]:
    classes = str(attrs.get("class", "")).split()
    if name and name not in classes:
        classes.append(name)
    return {**attrs, "class": " ".join(classes)} if classes else attrs


class UswdsFormRenderer(TemplatesSetting):
    """Django's template-based renderer (so project templates may override form templates), adding USWDS classes."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        widget = context.get("widget")
        if isinstance(widget, dict):
            name = uswds_class(widget)
            if name:
                widget = {**widget, "attrs": _add_class(widget.get("attrs") or {}, name)}
                context = {**context, "widget": widget}
        elif template_name == "django/forms/label.html" and context.get("use_tag"):
            field = context.get("field")
            input_type = getattr(getattr(getattr(field, "field", None), "widget", None), "input_type", None)
            if input_type not in ("checkbox", "radio"):
                context = {**context, "attrs": _add_class(context.get("attrs") or {}, "usa-label")}
        return super().render(template_name, context, request)
