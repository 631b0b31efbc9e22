#include "ui/chat-panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QShortcut>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

#include "ui/chat-view.h"
#include "workbench/chat-store.h"

namespace cyllm::ui {

namespace {
// The "Open adapter..." item's data: adapter names never hold control characters.
const QString kOpenAdapter = QStringLiteral("\x01open");
struct Preset {
  double temperature, top_p;
  int top_k;
};
// Index 0 is "Custom" (whatever the fields say).
const Preset kPresets[] = {{0, 0, 0}, {0.0, 1.0, 0}, {0.7, 0.95, 40}, {1.0, 0.98, 100}};
}  // namespace

ChatPanel::ChatPanel(workbench::EngineHost* engine, workbench::ChatStore* store, QWidget* parent)
    : QWidget(parent), engine_(engine), store_(store) {
  auto* split = new QSplitter(Qt::Horizontal, this);
  auto* outer = new QHBoxLayout(this);
  outer->setContentsMargins(0, 0, 0, 0);
  outer->addWidget(split);

  // Left: conversations.
  auto* left = new QWidget(split);
  auto* lv = new QVBoxLayout(left);
  conversations_ = new QListWidget(left);
  conversations_->setObjectName(QStringLiteral("conversations"));
  conversations_->setTextElideMode(Qt::ElideRight);
  conversations_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  lv->addWidget(conversations_);
  auto* lb = new QHBoxLayout();
  new_ = new QPushButton(left);
  delete_ = new QPushButton(left);
  lb->addWidget(new_);
  lb->addWidget(delete_);
  lv->addLayout(lb);

  // Middle: the transcript and the input.
  auto* mid = new QWidget(split);
  auto* mv = new QVBoxLayout(mid);
  auto* mh = new QHBoxLayout();
  model_label_ = new QLabel(mid);
  models_ = new QComboBox(mid);
  models_->setObjectName(QStringLiteral("models"));
  models_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  models_->setMinimumContentsLength(16);
  open_model_ = new QPushButton(mid);
  adapter_label_ = new QLabel(mid);
  adapter_ = new QComboBox(mid);
  // Item 0: the base model; then the registered adapters (data: their name); last: "Open adapter...".
  adapter_->addItem(QString(), QString());
  adapter_->addItem(QString(), kOpenAdapter);
  connect(adapter_, qOverload<int>(&QComboBox::activated), this, [this](int i) {
    if (adapter_->itemData(i).toString() != kOpenAdapter) return;
    adapter_->setCurrentIndex(0);
    const QString path = QFileDialog::getOpenFileName(this, tr("Open a LoRA adapter"), QString(),
                                                      tr("LoRA adapters (adapter_config.json *.gguf)"));
    if (!path.isEmpty()) addAdapter(path);
  });
  connect(engine_, &workbench::EngineHost::adaptersChanged, this, &ChatPanel::refreshAdapters);
  mh->addWidget(model_label_);
  mh->addWidget(models_, 1);
  mh->addWidget(open_model_);
  mh->addSpacing(12);
  mh->addWidget(adapter_label_);
  mh->addWidget(adapter_);
  mv->addLayout(mh);
  views_ = new QSplitter(Qt::Horizontal, mid);
  view_ = new ChatView(views_);
  b_box_ = new QWidget(views_);
  auto* bv = new QVBoxLayout(b_box_);
  bv->setContentsMargins(0, 0, 0, 0);
  auto* bh2 = new QHBoxLayout();
  b_label_ = new QLabel(b_box_);
  b_preset_ = new QComboBox(b_box_);
  b_preset_->setObjectName(QStringLiteral("preset_b"));
  for (int i = 0; i < 4; ++i) b_preset_->addItem(QString());
  b_temperature_ = new QDoubleSpinBox(b_box_);
  b_temperature_->setRange(0, 2);
  b_temperature_->setSingleStep(0.05);
  b_seed_ = new QSpinBox(b_box_);
  b_seed_->setRange(-1, 2147483647);
  b_adapter_ = new QComboBox(b_box_);
  b_adapter_->setObjectName(QStringLiteral("adapter_b"));
  b_adapter_->addItem(QString(), QString());
  bh2->addWidget(b_label_);
  bh2->addWidget(b_preset_);
  bh2->addWidget(b_temperature_);
  bh2->addWidget(b_seed_);
  bh2->addWidget(b_adapter_);
  bv->addLayout(bh2);
  view_b_ = new ChatView(b_box_);
  view_b_->setObjectName(QStringLiteral("view_b"));
  view_b_->setEditable(false);
  bv->addWidget(view_b_, 1);
  b_box_->setVisible(false);
  mv->addWidget(views_, 1);
  input_ = new QPlainTextEdit(mid);
  input_->setObjectName(QStringLiteral("input"));
  input_->setMaximumHeight(90);
  mv->addWidget(input_);
  auto* bh = new QHBoxLayout();
  status_ = new QLabel(mid);
  status_->setObjectName(QStringLiteral("status"));
  send_ = new QPushButton(mid);
  send_->setObjectName(QStringLiteral("send"));
  send_->setDefault(true);
  stop_ = new QPushButton(mid);
  stop_->setObjectName(QStringLiteral("stop"));
  regenerate_ = new QPushButton(mid);
  regenerate_->setObjectName(QStringLiteral("regenerate"));
  compare_ = new QCheckBox(mid);
  compare_->setObjectName(QStringLiteral("compare"));
  bh->addWidget(compare_);
  bh->addWidget(status_, 1);
  bh->addWidget(regenerate_);
  bh->addWidget(stop_);
  bh->addWidget(send_);
  mv->addLayout(bh);

  // Right: system prompt and sampling.
  auto* right = new QWidget(split);
  auto* rv = new QVBoxLayout(right);
  system_box_ = new QGroupBox(right);
  auto* sv = new QVBoxLayout(system_box_);
  system_ = new QPlainTextEdit(system_box_);
  system_->setObjectName(QStringLiteral("system"));
  sv->addWidget(system_);
  rv->addWidget(system_box_, 1);
  sampling_box_ = new QGroupBox(right);
  sampling_form_ = new QFormLayout(sampling_box_);
  preset_ = new QComboBox(sampling_box_);
  preset_->setObjectName(QStringLiteral("preset"));
  for (int i = 0; i < 4; ++i) preset_->addItem(QString());
  temperature_ = new QDoubleSpinBox(sampling_box_);
  temperature_->setRange(0, 2);
  temperature_->setSingleStep(0.05);
  temperature_->setObjectName(QStringLiteral("temperature"));
  top_p_ = new QDoubleSpinBox(sampling_box_);
  top_p_->setRange(0.01, 1);
  top_p_->setSingleStep(0.01);
  top_k_ = new QSpinBox(sampling_box_);
  top_k_->setRange(0, 1000);
  max_tokens_ = new QSpinBox(sampling_box_);
  max_tokens_->setRange(1, 32768);
  max_tokens_->setObjectName(QStringLiteral("max_tokens"));
  seed_ = new QSpinBox(sampling_box_);
  seed_->setRange(-1, 2147483647);
  seed_->setObjectName(QStringLiteral("seed"));
  QWidget* fields[] = {preset_, temperature_, top_p_, top_k_, max_tokens_, seed_};
  for (QWidget* f : fields) sampling_form_->addRow(new QLabel(sampling_box_), f);  // labels: retranslateUi
  rv->addWidget(sampling_box_);
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 4);
  split->setStretchFactor(2, 1);
  split->setSizes({180, 640, 240});

  // Settings saved from the last session.
  QSettings st;
  workbench::ChatParams p;
  p.temperature = st.value(QStringLiteral("chat/temperature"), 0.7).toDouble();
  p.top_p = st.value(QStringLiteral("chat/top_p"), 0.95).toDouble();
  p.top_k = st.value(QStringLiteral("chat/top_k"), 40).toInt();
  p.max_tokens = st.value(QStringLiteral("chat/max_tokens"), 256).toInt();
  p.seed = st.value(QStringLiteral("chat/seed"), -1).toLongLong();
  setParams(p);
  system_->setPlainText(st.value(QStringLiteral("chat/system_prompt"), QString()).toString());
  b_preset_->setCurrentIndex(3);  // compare against a creative setting by default

  connect(send_, &QPushButton::clicked, this, [this] { send(input_->toPlainText()); });
  auto* sc = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return), input_);
  connect(sc, &QShortcut::activated, send_, &QPushButton::click);
  connect(stop_, &QPushButton::clicked, this, &ChatPanel::stop);
  connect(regenerate_, &QPushButton::clicked, this, &ChatPanel::regenerate);
  connect(new_, &QPushButton::clicked, this, &ChatPanel::newConversation);
  connect(delete_, &QPushButton::clicked, this, [this] {
    if (!conv_ || generating()) return;
    store_->deleteConversation(conv_);
    newConversation();
  });
  connect(open_model_, &QPushButton::clicked, this, &ChatPanel::openModelRequested);
  connect(models_, &QComboBox::activated, this, [this](int i) {
    const QString path = models_->itemData(i).toString();
    if (!path.isEmpty() && path != engine_->modelPath() && !generating()) emit modelChosen(path);
  });
  connect(conversations_, &QListWidget::itemActivated, this,
          [this](QListWidgetItem* it) { openConversation(it->data(Qt::UserRole).toLongLong()); });
  connect(conversations_, &QListWidget::itemClicked, this,
          [this](QListWidgetItem* it) { openConversation(it->data(Qt::UserRole).toLongLong()); });
  connect(preset_, &QComboBox::currentIndexChanged, this, &ChatPanel::applyPreset);
  auto custom = [this] {
    if (!applying_preset_) preset_->setCurrentIndex(0);
  };
  connect(temperature_, &QDoubleSpinBox::valueChanged, this, custom);
  connect(top_p_, &QDoubleSpinBox::valueChanged, this, custom);
  connect(top_k_, &QSpinBox::valueChanged, this, custom);
  connect(compare_, &QCheckBox::toggled, this, &ChatPanel::setCompare);
  connect(b_preset_, &QComboBox::currentIndexChanged, this, [this](int i) {
    if (i > 0 && i < 4) b_temperature_->setValue(kPresets[i].temperature);
  });
  connect(view_, &ChatView::editRequested, this, [this](int index) {
    if (generating() || index < 0) return;
    editing_ = index;
    input_->setPlainText(view_->messages().at(index)->text());
    input_->setFocus();
    retranslateUi();
  });
  // EngineHost lives on this (GUI) thread and already batches tokens, so direct connections.
  connect(engine_, &workbench::EngineHost::textArrived, this, &ChatPanel::onText);
  connect(engine_, &workbench::EngineHost::generationFinished, this, &ChatPanel::onFinished);
  connect(engine_, &workbench::EngineHost::modelLoaded, this, &ChatPanel::onModelChanged);
  connect(engine_, &workbench::EngineHost::modelFailed, this, &ChatPanel::onModelChanged);

  retranslateUi();
  refreshConversations();
  if (auto list = store_->conversations(); !list.isEmpty()) openConversation(list.first().id);
  updateButtons();
}

ChatPanel::~ChatPanel() {
  QSettings st;
  const auto p = params();
  st.setValue(QStringLiteral("chat/temperature"), p.temperature);
  st.setValue(QStringLiteral("chat/top_p"), p.top_p);
  st.setValue(QStringLiteral("chat/top_k"), p.top_k);
  st.setValue(QStringLiteral("chat/max_tokens"), p.max_tokens);
  st.setValue(QStringLiteral("chat/seed"), p.seed);
  st.setValue(QStringLiteral("chat/system_prompt"), system_->toPlainText());
}

void ChatPanel::retranslateUi() {
  new_->setText(tr("New chat"));
  delete_->setText(tr("Delete"));
  model_label_->setText(tr("Model:"));
  open_model_->setText(tr("Open model…"));
  adapter_label_->setText(tr("Adapter:"));
  adapter_->setItemText(0, tr("(none: base model)"));
  adapter_->setItemText(adapter_->count() - 1, tr("Open adapter..."));
  b_adapter_->setItemText(0, tr("(none: base model)"));
  system_box_->setTitle(tr("System prompt"));
  system_->setPlaceholderText(tr("You are a helpful assistant."));
  sampling_box_->setTitle(tr("Sampling"));
  const QString labels[] = {tr("Preset"), tr("Temperature"), tr("Top-p"), tr("Top-k"), tr("Max tokens"), tr("Seed")};
  for (int i = 0; i < 6; ++i)
    if (auto* l = qobject_cast<QLabel*>(sampling_form_->itemAt(i, QFormLayout::LabelRole)->widget())) l->setText(labels[i]);
  preset_->setItemText(0, tr("Custom"));
  preset_->setItemText(1, tr("Precise (greedy)"));
  preset_->setItemText(2, tr("Balanced"));
  preset_->setItemText(3, tr("Creative"));
  top_k_->setSpecialValueText(tr("off"));
  compare_->setText(tr("Compare"));
  compare_->setToolTip(tr("Send every prompt to a second configuration too, side by side (its answers are not kept)"));
  b_label_->setText(tr("B:"));
  b_preset_->setItemText(0, tr("Custom"));
  b_preset_->setItemText(1, tr("Precise (greedy)"));
  b_preset_->setItemText(2, tr("Balanced"));
  b_preset_->setItemText(3, tr("Creative"));
  b_temperature_->setToolTip(tr("Temperature"));
  b_seed_->setToolTip(tr("Seed"));
  b_seed_->setSpecialValueText(tr("random"));
  seed_->setSpecialValueText(tr("random"));
  input_->setPlaceholderText(tr("Type a message; Ctrl+Enter sends it"));
  send_->setText(editing_ >= 0 ? tr("Resend") : tr("Send"));
  stop_->setText(tr("Stop"));
  regenerate_->setText(tr("Regenerate"));
  refreshModels();
  if (!conversations_->count() || !conv_) refreshConversations();
}

void ChatPanel::changeEvent(QEvent* e) {
  if (e->type() == QEvent::LanguageChange) retranslateUi();
  QWidget::changeEvent(e);
}

workbench::ChatParams ChatPanel::params() const {
  workbench::ChatParams p;
  p.temperature = temperature_->value();
  p.top_p = top_p_->value();
  p.top_k = top_k_->value();
  p.max_tokens = max_tokens_->value();
  p.seed = seed_->value();
  p.adapter = adapter_->currentData().toString();
  if (p.adapter == kOpenAdapter) p.adapter.clear();
  return p;
}

void ChatPanel::refreshAdapters() {
  const QString current = adapter_->currentData().toString(), current_b = b_adapter_->currentData().toString();
  while (adapter_->count() > 2) adapter_->removeItem(1);
  while (b_adapter_->count() > 1) b_adapter_->removeItem(1);
  int select = 0, select_b = 0;
  for (const workbench::ChatAdapter& a : engine_->adapters()) {
    adapter_->insertItem(adapter_->count() - 1, a.name, a.name);
    adapter_->setItemData(adapter_->count() - 2, a.path, Qt::ToolTipRole);
    if (a.name == current) select = adapter_->count() - 2;
    b_adapter_->addItem(a.name, a.name);
    if (a.name == current_b) select_b = b_adapter_->count() - 1;
  }
  adapter_->setCurrentIndex(select);
  b_adapter_->setCurrentIndex(select_b);
}

bool ChatPanel::addAdapter(const QString& path) {
  const workbench::AdapterLoad r = engine_->loadAdapter(path);
  if (!r.ok()) {
    // Shown without blocking the caller (open(), not exec()): the engine keeps streaming meanwhile.
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Adapter"), tr("Cannot load the adapter: %1").arg(r.error),
                                QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    return false;
  }
  refreshAdapters();
  selectAdapter(r.name);
  return true;
}

void ChatPanel::setParams(const workbench::ChatParams& p) {
  applying_preset_ = true;
  temperature_->setValue(p.temperature);
  top_p_->setValue(p.top_p);
  top_k_->setValue(p.top_k);
  max_tokens_->setValue(p.max_tokens);
  seed_->setValue(static_cast<int>(std::min<qint64>(p.seed, 2147483647)));
  applying_preset_ = false;
  int match = 0;
  for (int i = 1; i < 4; ++i)
    if (std::abs(kPresets[i].temperature - p.temperature) < 1e-6 && std::abs(kPresets[i].top_p - p.top_p) < 1e-6 &&
        kPresets[i].top_k == p.top_k)
      match = i;
  applying_preset_ = true;
  preset_->setCurrentIndex(match);
  applying_preset_ = false;
}

void ChatPanel::setSystemPrompt(const QString& s) { system_->setPlainText(s); }

void ChatPanel::applyPreset(int index) {
  if (applying_preset_ || index <= 0 || index > 3) return;
  applying_preset_ = true;
  temperature_->setValue(kPresets[index].temperature);
  top_p_->setValue(kPresets[index].top_p);
  top_k_->setValue(kPresets[index].top_k);
  applying_preset_ = false;
}

void ChatPanel::refreshConversations() {
  const QSignalBlocker block(conversations_);
  conversations_->clear();
  for (const auto& c : store_->conversations()) {
    auto* it = new QListWidgetItem(c.title.isEmpty() ? tr("(untitled)") : c.title, conversations_);
    it->setData(Qt::UserRole, c.id);
    if (c.id == conv_) conversations_->setCurrentItem(it);
  }
}

void ChatPanel::newConversation() {
  if (generating()) return;
  conv_ = 0;
  ids_.clear();
  editing_ = -1;
  view_->clear();
  view_b_->clear();
  refreshConversations();
  retranslateUi();
  updateButtons();
}

void ChatPanel::openConversation(qint64 id) {
  if (generating() || id == conv_) return;
  const auto c = store_->conversation(id);
  if (!c.id) return;
  newConversation();
  conv_ = id;
  system_->setPlainText(c.system_prompt);
  for (const auto& m : store_->messages(id)) {
    MessageView* v = view_->addMessage(m.role, m.content);
    ids_.append(m.id);
    if (m.role == QLatin1String("assistant")) {
      workbench::GenerationStats s;
      s.ttft_ms = m.ttft_ms;
      s.tokens_per_s = m.tokens_per_s;
      s.finish_reason = m.finish_reason;
      v->setStats(statsLine(s));
    }
  }
  refreshConversations();
  updateButtons();
}

void ChatPanel::send(const QString& raw) {
  const QString text = raw.trimmed();
  if (text.isEmpty() || generating()) return;
  if (!conv_) {
    conv_ = store_->createConversation(text.left(48).simplified(), system_->toPlainText());
  } else {
    store_->setSystemPrompt(conv_, system_->toPlainText());
  }
  if (editing_ >= 0 && editing_ < ids_.size()) {
    store_->truncateFrom(conv_, ids_.at(editing_));
    view_->truncate(editing_);
    ids_ = ids_.mid(0, editing_);
  }
  editing_ = -1;
  workbench::StoredMessage um;
  um.role = QStringLiteral("user");
  um.content = text;
  ids_.append(store_->addMessage(conv_, um));
  view_->addMessage(um.role, text);
  input_->clear();
  refreshConversations();
  retranslateUi();
  startGeneration();
}

void ChatPanel::startGeneration() {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  const QString sys = system_->toPlainText().trimmed();
  if (!sys.isEmpty()) messages.push_back({{"role", "system"}, {"content", sys.toStdString()}});
  for (MessageView* m : view_->messages())
    messages.push_back({{"role", m->role().toStdString()}, {"content", m->text().toStdString()}});
  workbench::StoredMessage am;
  am.role = QStringLiteral("assistant");
  ids_.append(store_->addMessage(conv_, am));  // saved now, filled in as the answer completes
  answer_ = view_->addMessage(am.role, QString());
  status_->setText(tr("Generating…"));
  active_ = engine_->generate(messages, params());
  if (comparing()) {
    // B answers the same conversation (A's history) at the same time, in its own transcript.
    view_b_->clear();
    view_b_->addMessage(QStringLiteral("user"), view_->messages().at(view_->messages().size() - 2)->text());
    answer_b_ = view_b_->addMessage(QStringLiteral("assistant"), QString());
    active_b_ = engine_->generate(messages, paramsB());
  }
  updateButtons();
  emit generationStarted();
}

void ChatPanel::onText(quint64 id, const QString& text) {
  if (id && id == active_b_ && answer_b_) {
    answer_b_->appendText(text);
    view_b_->scrollToEnd();
    return;
  }
  if (id != active_ || !answer_) return;
  answer_->appendText(text);
  view_->scrollToEnd();
}

void ChatPanel::onFinished(quint64 id, const workbench::GenerationStats& s) {
  if (id && id == active_b_) {
    active_b_ = 0;
    if (answer_b_) {
      if (!s.error.isEmpty() && answer_b_->text().isEmpty()) answer_b_->setText(QStringLiteral("*%1*").arg(s.error));
      answer_b_->setStats(statsLine(s));
    }
    answer_b_ = nullptr;
    updateButtons();
    if (!generating()) emit generationDone();
    return;
  }
  if (id != active_) return;
  active_ = 0;
  if (answer_) {
    if (!s.error.isEmpty() && answer_->text().isEmpty()) answer_->setText(QStringLiteral("*%1*").arg(s.error));
    answer_->setStats(statsLine(s));
    workbench::StoredMessage m;
    m.id = ids_.isEmpty() ? 0 : ids_.last();
    m.role = QStringLiteral("assistant");
    m.content = answer_->text();
    m.ttft_ms = s.ttft_ms;
    m.tokens_per_s = s.tokens_per_s;
    m.finish_reason = s.finish_reason;
    store_->updateMessage(m);
  }
  answer_ = nullptr;
  status_->setText(s.error.isEmpty() ? QString() : s.error);
  updateButtons();
  if (!generating()) emit generationDone();
}

QString ChatPanel::statsLine(const workbench::GenerationStats& s) const {
  QString line = tr("%1 tok/s · TTFT %2 ms").arg(s.tokens_per_s, 0, 'f', 1).arg(s.ttft_ms, 0, 'f', 0);
  if (s.completion_tokens > 0) line += tr(" · %n token(s)", nullptr, s.completion_tokens);
  if (s.finish_reason == QLatin1String("length")) line += tr(" · stopped at max tokens");
  else if (s.finish_reason == QLatin1String("cancelled")) line += tr(" · stopped");
  else if (s.finish_reason == QLatin1String("error") || s.finish_reason == QLatin1String("timeout")) line += tr(" · failed");
  return line;
}

void ChatPanel::stop() {
  if (active_) engine_->cancel(active_);
  if (active_b_) engine_->cancel(active_b_);
}

void ChatPanel::setCompare(bool on) {
  if (compare_->isChecked() != on) compare_->setChecked(on);  // comes back here through toggled
  b_box_->setVisible(on);
  if (on) views_->setSizes({1000, 1000});  // A and B get half each
}

bool ChatPanel::selectAdapter(const QString& name) {
  const int i = name.isEmpty() ? 0 : adapter_->findData(name);
  if (i < 0) return false;
  adapter_->setCurrentIndex(i);
  return true;
}

bool ChatPanel::comparing() const { return compare_->isChecked(); }

workbench::ChatParams ChatPanel::paramsB() const {
  workbench::ChatParams p = params();
  const int i = b_preset_->currentIndex();
  if (i > 0 && i < 4) {
    p.top_p = kPresets[i].top_p;
    p.top_k = kPresets[i].top_k;
  }
  p.temperature = b_temperature_->value();
  p.seed = b_seed_->value();
  p.adapter = b_adapter_->currentData().toString();
  return p;
}

void ChatPanel::setParamsB(const workbench::ChatParams& p) {
  int match = 0;
  for (int i = 1; i < 4; ++i)
    if (std::abs(kPresets[i].top_p - p.top_p) < 1e-6 && kPresets[i].top_k == p.top_k) match = i;
  b_preset_->setCurrentIndex(match);
  b_temperature_->setValue(p.temperature);
  b_seed_->setValue(static_cast<int>(std::min<qint64>(p.seed, 2147483647)));
  const int a = b_adapter_->findData(p.adapter);
  b_adapter_->setCurrentIndex(a >= 0 ? a : 0);
}

void ChatPanel::regenerate() {
  if (generating() || view_->messages().isEmpty()) return;
  if (view_->messages().last()->role() == QLatin1String("assistant")) {
    store_->truncateFrom(conv_, ids_.last());
    view_->truncate(view_->messages().size() - 1);
    ids_.removeLast();
  }
  if (!view_->messages().isEmpty() && view_->messages().last()->role() == QLatin1String("user")) startGeneration();
}

void ChatPanel::updateButtons() {
  const bool model = engine_->hasModel();
  send_->setEnabled(model && !generating());
  stop_->setEnabled(generating());
  regenerate_->setEnabled(model && !generating() && !view_->messages().isEmpty());
  delete_->setEnabled(conv_ != 0 && !generating());
  conversations_->setEnabled(!generating());
  compare_->setEnabled(!generating());
}

void ChatPanel::refreshModels() {
  // The recent list is kept by the settings (most recent first); the loaded model leads it.
  QSettings st;
  QStringList recent = st.value(QStringLiteral("model/recent")).toStringList();
  if (engine_->hasModel()) {
    recent.removeAll(engine_->modelPath());
    recent.prepend(engine_->modelPath());
    while (recent.size() > 8) recent.removeLast();
    st.setValue(QStringLiteral("model/recent"), recent);
  }
  const QSignalBlocker block(models_);
  models_->clear();
  if (!engine_->hasModel()) models_->addItem(engine_->loading() ? tr("loading…") : tr("no model loaded"));
  for (const QString& p : recent) {
    const QString name = p == engine_->modelPath() ? engine_->modelName() : QFileInfo(p).completeBaseName();
    models_->addItem(name, p);
    models_->setItemData(models_->count() - 1, p, Qt::ToolTipRole);
  }
  models_->setCurrentIndex(0);
}

void ChatPanel::onModelChanged() {
  retranslateUi();
  updateButtons();
}

}  // namespace cyllm::ui
