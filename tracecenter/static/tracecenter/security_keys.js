// Security keys (WebAuthn): registering one on the sign-in security page, and using one at the second step.
// The server gives the options as JSON (binary fields in base64url) and checks the answer; this file only
// converts between JSON and the browser's ArrayBuffers and calls navigator.credentials.
(function () {
  "use strict";

  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return { type: d.type, id: toBuffer(d.id), transports: d.transports };
    });
  }

  // The answer as JSON, in the shape the WebAuthn Level 3 toJSON() gives (and the server parses).
  function answer(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = toText(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || null,
    };
  }

  function post(form, url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value,
      },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.detail || response.statusText);
        return data;
      });
    });
  }

  function showError(form, error) {
    var box = form.querySelector("[data-security-key-error]");
    box.textContent = error && error.name === "NotAllowedError"
      ? form.dataset.cancelled || "The security key did not answer (cancelled or timed out)."
      : String(error && error.message ? error.message : error);
    box.hidden = false;
  }

  function register(form) {
    return post(form, form.dataset.optionsUrl).then(function (options) {
      options.challenge = toBuffer(options.challenge);
      options.user.id = toBuffer(options.user.id);
      options.excludeCredentials = descriptors(options.excludeCredentials);
      return navigator.credentials.create({ publicKey: options });
    }).then(function (credential) {
      var name = form.querySelector("input[name=name]").value;
      return post(form, form.dataset.addUrl, { name: name, credential: answer(credential) });
    });
  }

  function signIn(form) {
    return post(form, form.dataset.challengeUrl).then(function (options) {
      options.challenge = toBuffer(options.challenge);
      options.allowCredentials = descriptors(options.allowCredentials);
      return navigator.credentials.get({ publicKey: options });
    }).then(function (credential) {
      return post(form, form.dataset.checkUrl, { credential: answer(credential) });
    });
  }

  document.querySelectorAll("form[data-security-key]").forEach(function (form) {
    if (!window.PublicKeyCredential) {
      showError(form, new Error("This browser cannot use security keys."));
      form.querySelector("button").disabled = true;
      return;
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button");
      button.disabled = true;
      (form.dataset.securityKey === "register" ? register(form) : signIn(form))
        .then(function (data) { window.location.assign(data.redirect); })
        .catch(function (error) { showError(form, error); })
        .finally(function () { button.disabled = false; });
    });
  });
})();
