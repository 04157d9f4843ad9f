// Checkout page for mpesa-stk serve: starts a payment with POST /api/checkout, then follows
// it with long polls on GET /api/payments/{id}?wait=N until it is final. Plain JavaScript,
// no build step. docs/http-api.md describes the API.
"use strict";

(() => {
  const TEXT = {
    en: {
      title: "Pay with M-Pesa",
      phoneLabel: "M-Pesa phone number",
      amountLabel: "Amount (KSh)",
      pay: "Pay",
      sending: "Sending the payment request…",
      checkPhone: "Check your phone",
      successTitle: "Payment received",
      receiptLabel: "M-Pesa receipt",
      amountPaid: "Amount",
      newPayment: "Make another payment",
      failedTitle: "Payment not completed",
      retry: "Try again",
      unconfirmedTitle: "Not confirmed yet",
      unconfirmed: "We could not confirm your payment yet; check your M-Pesa messages.",
      checkAgain: "Check again",
      summary: (amount, phone) => `KSh ${amount} from ${phone}`,
      reconnecting: "Connection problem. Trying again…",
      phoneInvalid: "Enter a Safaricom number such as 0712 345 678.",
      amountInvalid: "Enter a whole amount from 1 to 250,000 shillings.",
      tooMany: "Too many attempts. Wait a minute, then try again.",
      startFailed: "We could not start the payment. Please try again.",
      notFound: "We cannot find this payment. Please start again.",
      reasons: {
        pending: "Check your phone and enter your M-Pesa PIN to complete the payment.",
        succeeded: "Payment received. Thank you!",
        cancelled: "You cancelled the payment on your phone. No money was taken.",
        wrong_pin: "The M-Pesa PIN you entered is wrong. No money was taken. Please try again.",
        insufficient_funds: "Your M-Pesa balance is too low for this payment. Top up and try again.",
        timed_out: "Your phone did not answer in time. Try again and enter your PIN when the prompt appears. If this keeps happening, your SIM card may need an update: visit a Safaricom shop.",
        unconfirmed: "We could not confirm your payment. Check your M-Pesa messages before you pay again.",
        system_busy: "M-Pesa is busy right now. Please try again in a few minutes.",
        rule_limited: "M-Pesa stopped this payment because a similar one was made moments ago. Wait two minutes, then try again.",
        transaction_in_progress: "Another M-Pesa transaction is in progress on your phone. Finish it, then try again.",
        failed: "The payment did not go through. Please try again.",
      },
    },
    sw: {
      title: "Lipa kwa M-Pesa",
      phoneLabel: "Nambari ya simu ya M-Pesa",
      amountLabel: "Kiasi (KSh)",
      pay: "Lipa",
      sending: "Tunatuma ombi la malipo…",
      checkPhone: "Angalia simu yako",
      successTitle: "Malipo yamepokelewa",
      receiptLabel: "Risiti ya M-Pesa",
      amountPaid: "Kiasi",
      newPayment: "Fanya malipo mengine",
      failedTitle: "Malipo hayajakamilika",
      retry: "Jaribu tena",
      unconfirmedTitle: "Bado hayajathibitishwa",
      unconfirmed: "Bado hatujaweza kuthibitisha malipo yako; angalia ujumbe wako wa M-Pesa.",
      checkAgain: "Angalia tena",
      summary: (amount, phone) => `KSh ${amount} kutoka ${phone}`,
      reconnecting: "Tatizo la mtandao. Tunajaribu tena…",
      phoneInvalid: "Weka nambari ya Safaricom kama 0712 345 678.",
      amountInvalid: "Weka kiasi kamili kati ya shilingi 1 na 250,000.",
      tooMany: "Umejaribu mara nyingi mno. Subiri dakika moja, kisha ujaribu tena.",
      startFailed: "Hatukuweza kuanzisha malipo. Tafadhali jaribu tena.",
      notFound: "Hatuwezi kupata malipo haya. Tafadhali anza upya.",
      reasons: {
        pending: "Angalia simu yako na uweke PIN yako ya M-Pesa ili kukamilisha malipo.",
        succeeded: "Malipo yamepokelewa. Asante!",
        cancelled: "Umeghairi malipo kwenye simu yako. Hakuna pesa iliyokatwa.",
        wrong_pin: "PIN ya M-Pesa uliyoweka si sahihi. Hakuna pesa iliyokatwa. Tafadhali jaribu tena.",
        insufficient_funds: "Salio lako la M-Pesa halitoshi kwa malipo haya. Ongeza pesa kwenye M-Pesa kisha ujaribu tena.",
        timed_out: "Simu yako haikujibu kwa wakati. Jaribu tena na uweke PIN ujumbe wa M-Pesa ukitokea. Hali hii ikiendelea, huenda SIM kadi yako inahitaji kusasishwa: tembelea duka la Safaricom.",
        unconfirmed: "Hatukuweza kuthibitisha malipo yako. Angalia ujumbe wako wa M-Pesa kabla ya kulipa tena.",
        system_busy: "M-Pesa ina shughuli nyingi kwa sasa. Tafadhali jaribu tena baada ya dakika chache.",
        rule_limited: "M-Pesa imezuia malipo haya kwa sababu malipo kama haya yamefanyika sasa hivi. Subiri dakika mbili, kisha ujaribu tena.",
        transaction_in_progress: "Kuna muamala mwingine wa M-Pesa unaoendelea kwenye simu yako. Umalize, kisha ujaribu tena.",
        failed: "Malipo hayakufanikiwa. Tafadhali jaribu tena.",
      },
    },
  };

  const LONG_POLL_SECONDS = 25;
  // A poll that comes back at once while still pending (the server declined to hold it)
  // waits this long before the next, so the page never hammers the server.
  const MIN_POLL_GAP_MS = 2000;
  const MAX_BACKOFF_MS = 30000;
  const FINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

  const params = new URLSearchParams(location.search);
  const app = document.getElementById("app");
  const apiBase = (params.get("api") ?? document.body.dataset.apiBase ?? "").replace(/\/$/, "");
  const maxWaitMs = 1000 * Number(params.get("max_wait") ?? document.body.dataset.maxWaitSeconds ?? 180);

  const state = {
    lang: chooseLanguage(),
    phase: "form",
    payment: null,
    etag: null,
    startedAt: 0,
    inFlight: false,
    controller: null,
    timer: null,
    failures: 0,
  };

  function chooseLanguage() {
    const wanted = params.get("lang") ?? localStorage.getItem("mpesa-checkout-lang") ?? navigator.language ?? "en";
    return wanted.toLowerCase().startsWith("sw") ? "sw" : "en";
  }

  function t(key) {
    return TEXT[state.lang][key] ?? TEXT.en[key];
  }

  function reasonText(payment) {
    return TEXT[state.lang].reasons[payment.reason] ?? payment.message ?? TEXT[state.lang].reasons.failed;
  }

  function $(id) {
    return document.getElementById(id);
  }

  // Shows one panel and fills it from the current state; safe to call again on a language change.
  function render() {
    document.documentElement.lang = state.lang;
    document.title = t("title");
    app.dataset.state = state.phase;
    for (const element of document.querySelectorAll("[data-text]")) element.textContent = t(element.dataset.text);
    for (const button of document.querySelectorAll(".lang")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === state.lang));
    }
    for (const panel of document.querySelectorAll("[data-panel]")) panel.hidden = panel.dataset.panel !== state.phase;

    const payment = state.payment;
    if (!payment) return;
    $("waiting-message").textContent = reasonText(payment);
    $("waiting-summary").textContent = t("summary")(payment.amount, payment.phone);
    $("success-message").textContent = reasonText(payment);
    // A payment settled by STK Push Query has no receipt number yet; the customer's M-Pesa SMS has it.
    $("receipt").textContent = payment.receipt ?? "";
    $("receipt").hidden = !payment.receipt;
    $("receipt-label").hidden = !payment.receipt;
    $("paid-amount").textContent = `KSh ${payment.amount}`;
    $("failure-message").textContent = reasonText(payment);
  }

  function setPhase(phase) {
    state.phase = phase;
    render();
  }

  function showFieldError(field, message) {
    const error = $(`${field}-error`);
    error.textContent = message ?? "";
    error.hidden = !message;
    $(field).setAttribute("aria-invalid", String(Boolean(message)));
  }

  function showFormError(message) {
    $("form-error").textContent = message ?? "";
    $("form-error").hidden = !message;
  }

  // 07XXXXXXXX, 01XXXXXXXX, 7XXXXXXXX, +2547XXXXXXXX and 2547XXXXXXXX, spaces allowed.
  function looksLikePhone(text) {
    const digits = text.replace(/[\s-]/g, "").replace(/^\+/, "");
    return /^(?:254|0)?[17]\d{8}$/.test(digits);
  }

  function randomKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function startPayment(event) {
    event.preventDefault();
    const phone = $("phone").value.trim();
    const amount = Number($("amount").value);
    showFormError(null);
    showFieldError("phone", looksLikePhone(phone) ? null : t("phoneInvalid"));
    showFieldError("amount", Number.isInteger(amount) && amount >= 1 && amount <= 250000 ? null : t("amountInvalid"));
    if (!looksLikePhone(phone) || !Number.isInteger(amount) || amount < 1 || amount > 250000) return;

    setPhase("sending");
    let response;
    try {
      response = await fetch(`${apiBase}/api/checkout`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept-Language": state.lang },
        body: JSON.stringify({ phone, amount, idempotency_key: randomKey() }),
      });
    } catch {
      backToForm(t("startFailed"));
      return;
    }
    const body = await response.json().catch(() => ({}));
    if (response.status === 422) {
      backToForm(null);
      showFieldError(body.field === "amount" ? "amount" : "phone", t(body.field === "amount" ? "amountInvalid" : "phoneInvalid"));
      return;
    }
    if (response.status === 429) return backToForm(t("tooMany"));
    if (response.status !== 201 || !body.id) return backToForm(t("startFailed"));

    state.payment = body;
    state.etag = null;
    state.failures = 0;
    state.startedAt = Date.now();
    showPayment();
    schedulePoll(0);
  }

  function backToForm(message) {
    setPhase("form");
    showFormError(message);
  }

  function showPayment() {
    const payment = state.payment;
    if (payment.status === "pending") return setPhase("waiting");
    setPhase(payment.status === "succeeded" ? "succeeded" : "failed");
  }

  function schedulePoll(delayMs) {
    clearTimeout(state.timer);
    state.timer = null;
    if (state.phase !== "waiting" || document.hidden) return;
    state.timer = setTimeout(poll, delayMs);
  }

  function backoffMs() {
    const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(state.failures - 1, 5));
    return base / 2 + Math.random() * (base / 2);
  }

  // One status request at a time: `inFlight` guards it, and every path schedules at most one next poll.
  async function poll() {
    state.timer = null;
    if (state.inFlight || state.phase !== "waiting" || document.hidden) return;
    const elapsed = Date.now() - state.startedAt;
    if (elapsed >= maxWaitMs) return setPhase("unconfirmed");

    const wait = Math.max(0, Math.min(LONG_POLL_SECONDS, Math.floor((maxWaitMs - elapsed) / 1000)));
    const url = `${apiBase}/api/payments/${encodeURIComponent(state.payment.id)}?wait=${wait}&lang=${state.lang}`;
    const headers = state.etag ? { "If-None-Match": state.etag } : {};
    state.inFlight = true;
    state.controller = new AbortController();
    const sentAt = Date.now();
    let next = 0;
    try {
      const response = await fetch(url, { headers, cache: "no-store", signal: state.controller.signal });
      if (response.status === 200) {
        state.payment = await response.json();
        state.etag = response.headers.get("ETag");
        state.failures = 0;
        $("network-notice").hidden = true;
        if (FINAL.has(state.payment.status)) return showPayment();
        render();
      } else if (response.status === 304) {
        state.failures = 0;
        $("network-notice").hidden = true;
      } else if (response.status === 404) {
        state.payment = { ...state.payment, reason: "failed" };
        setPhase("failed");
        $("failure-message").textContent = t("notFound");
        return;
      } else {
        state.failures += 1;
        next = response.status === 429 ? Math.max(backoffMs(), 1000 * Number(response.headers.get("Retry-After") ?? 1)) : backoffMs();
      }
    } catch (error) {
      if (error.name !== "AbortError") {
        state.failures += 1;
        $("network-notice").textContent = t("reconnecting");
        $("network-notice").hidden = false;
        next = backoffMs();
      }
      // An abort means the tab was hidden: schedulePoll below does nothing until it is shown.
    } finally {
      state.inFlight = false;
      state.controller = null;
    }
    if (next === 0 && Date.now() - sentAt < MIN_POLL_GAP_MS) next = MIN_POLL_GAP_MS;
    schedulePoll(next);
  }

  // A hidden tab polls nothing; it catches up at once when shown again.
  function onVisibilityChange() {
    if (document.hidden) {
      clearTimeout(state.timer);
      state.timer = null;
      state.controller?.abort();
      return;
    }
    if (state.phase === "waiting" && !state.inFlight) schedulePoll(0);
  }

  function retry() {
    clearTimeout(state.timer);
    state.payment = null;
    state.etag = null;
    backToForm(null);
    $("phone").focus();
  }

  function checkAgain() {
    state.startedAt = Date.now();
    state.failures = 0;
    setPhase("waiting");
    schedulePoll(0);
  }

  function setLanguage(lang) {
    state.lang = lang;
    localStorage.setItem("mpesa-checkout-lang", lang);
    render();
    if (!$("phone-error").hidden) showFieldError("phone", t("phoneInvalid"));
    if (!$("amount-error").hidden) showFieldError("amount", t("amountInvalid"));
  }

  $("pay-form").addEventListener("submit", startPayment);
  document.addEventListener("visibilitychange", onVisibilityChange);
  for (const button of document.querySelectorAll(".lang")) {
    button.addEventListener("click", () => setLanguage(button.dataset.lang));
  }
  for (const button of document.querySelectorAll('[data-action="retry"], [data-action="new"]')) {
    button.addEventListener("click", retry);
  }
  document.querySelector('[data-action="check"]').addEventListener("click", checkAgain);
  render();
})();
