// Plan editor: the "on a rest day" rule (遇休息日) only concerns plans by days of the week, a day of the month or
// every N days, so it is hidden for daily and workday plans. Without script it stays visible and the server
// ignores it for those (patrols/services.py `_rest_day_rule`).
(function () {
  "use strict";
  var IGNORED = ["daily", "workdays"];

  document.addEventListener("DOMContentLoaded", function () {
    var recurrence = document.querySelector("select[name=recurrence]");
    var rule = document.querySelector("[data-rest-day-rule]");
    if (!recurrence || !rule) return;
    function update() {
      rule.hidden = IGNORED.indexOf(recurrence.value) !== -1;
    }
    recurrence.addEventListener("change", update);
    update();
  });
})();
