// On a phone the menu starts folded, so the page comes first. Loaded right after the menu.
if (window.matchMedia("(max-width: 760px)").matches) document.querySelector(".sidenav").removeAttribute("open");
