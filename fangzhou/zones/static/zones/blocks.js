// Pick buildings on the site plan: a tap on a building toggles its checkbox in the block form.
document.addEventListener("click", function (event) {
  var shape = event.target.closest && event.target.closest("#block-editor svg polygon.bldg");
  if (!shape) return;
  var box = document.querySelector('#pick-list input[value="' + shape.dataset.id + '"]');
  if (!box) return;
  box.checked = !box.checked;
  shape.classList.toggle("picked", box.checked);
  shape.setAttribute("stroke-width", box.checked ? "3" : "1");
});
document.addEventListener("change", function (event) {
  if (!event.target.matches || !event.target.matches("#pick-list input")) return;
  var shape = document.querySelector('#block-editor svg polygon[data-id="' + event.target.value + '"]');
  if (shape) { shape.classList.toggle("picked", event.target.checked); shape.setAttribute("stroke-width", event.target.checked ? "3" : "1"); }
});
