/* Copy buttons for referral links: progressive enhancement. Without JavaScript (or without the
   Clipboard API) the buttons stay hidden and the link is a read-only field to copy by hand. */
(function () {
    "use strict";

    function bind(button) {
        if (button.dataset.bound) {
            return;
        }
        button.dataset.bound = "1";
        var field = document.getElementById(button.getAttribute("data-copy-target"));
        var status = document.getElementById(button.getAttribute("data-copy-status"));
        if (!field || !navigator.clipboard) {
            return;
        }
        button.hidden = false;
        button.addEventListener("click", function () {
            navigator.clipboard.writeText(field.value).then(function () {
                if (status) {
                    status.textContent = button.getAttribute("data-copied-text");
                }
            }, function () {
                field.focus();
                field.select();
            });
        });
    }

    function init() {
        document.querySelectorAll("[data-copy-target]").forEach(bind);
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", init);
    } else {
        init();
    }
})();
