// Loaded first by every page shown through jupyter_fujita's preview (see preview.py).
// The proxy puts the preview prefix on the URLs in the HTML; this does the same for the URLs
// the page's own scripts build: fetch, XMLHttpRequest, EventSource, history, and links and
// forms added after load. A URL is moved when it is root-relative ("/api/x") or names
// runserver's own address; anything else (relative, other sites) is left as it is.
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || !script.dataset.fujita) {
    return;
  }
  var config = JSON.parse(script.dataset.fujita);
  var prefix = config.prefix;
  var direct = config.direct;
  var here = window.location.origin;

  function outward(url) {
    if (typeof url !== 'string') {
      return url;
    }
    for (var i = 0; i < direct.length; i++) {
      if (url === direct[i] || url.indexOf(direct[i] + '/') === 0) {
        url = url.slice(direct[i].length) || '/';
        break;
      }
    }
    if (url.indexOf(here + '/') === 0) {
      var path = url.slice(here.length);
      var moved = outward(path);
      return moved === path ? url : here + moved;
    }
    if (url.charAt(0) !== '/' || url.charAt(1) === '/') {
      return url;
    }
    if (url === prefix || url.indexOf(prefix + '/') === 0) {
      return url;
    }
    return prefix + url;
  }

  var nativeFetch = window.fetch;
  if (nativeFetch) {
    window.fetch = function (input, init) {
      if (typeof input === 'string') {
        input = outward(input);
      } else if (input instanceof URL) {
        input = outward(input.href);
      } else if (input instanceof Request && outward(input.url) !== input.url) {
        input = new Request(outward(input.url), input);
      }
      return nativeFetch.call(this, input, init);
    };
  }

  var nativeOpen = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url) {
    var args = Array.prototype.slice.call(arguments);
    args[1] = outward(url instanceof URL ? url.href : url);
    return nativeOpen.apply(this, args);
  };

  if (window.EventSource) {
    var NativeEventSource = window.EventSource;
    window.EventSource = function (url, options) {
      return new NativeEventSource(outward(url instanceof URL ? url.href : url), options);
    };
    window.EventSource.prototype = NativeEventSource.prototype;
  }

  ['pushState', 'replaceState'].forEach(function (name) {
    var native = history[name];
    history[name] = function (state, title, url) {
      return native.call(this, state, title, url == null ? url : outward(String(url)));
    };
  });

  // Links and forms made by scripts after the proxy rewrote the page.
  document.addEventListener(
    'click',
    function (event) {
      var link = event.target && event.target.closest && event.target.closest('a[href]');
      if (link) {
        var href = link.getAttribute('href');
        var moved = outward(href);
        if (moved !== href) {
          link.setAttribute('href', moved);
        }
      }
    },
    true
  );
  document.addEventListener(
    'submit',
    function (event) {
      var form = event.target;
      var action = form && form.getAttribute && form.getAttribute('action');
      if (action) {
        var moved = outward(action);
        if (moved !== action) {
          form.setAttribute('action', moved);
        }
      }
    },
    true
  );
})();
