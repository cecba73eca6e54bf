/* i18n.c: the attendant's catalogue (see i18n.h for why a compiled-in table).
 *
 * Every English text is also the reference for the Russian one next to it; keep
 * them the same length class so the 80-column layout fits in both languages
 * (the key line and the status lines are the long ones: at most 78 columns).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "i18n.h"

static const char *const i18n_messages[I18N_MSG_COUNT][I18N_LANG_COUNT] = {
	[I18N_TITLE] = {"Turnstile attendant", "Пульт контролёра"},
	[I18N_LANE] = {"Lane", "Проход"},
	[I18N_STATE] = {"State", "Состояние"},
	[I18N_MODE] = {"Mode", "Режим"},
	[I18N_MODE_PENDING] = {"when idle", "после прохода"},
	[I18N_HOLDER] = {"Holder", "Владелец"},
	[I18N_BIRTH] = {"Date of birth", "Дата рождения"},
	[I18N_DOC] = {"Passport", "Паспорт"},
	[I18N_PASS] = {"Pass", "Пропуск"},
	[I18N_VALID_UNTIL] = {"Valid until", "Действует до"},
	[I18N_TIME_LEFT] = {"Seconds left", "Осталось секунд"},
	[I18N_REQUEST] = {"Request", "Запрос"},
	[I18N_REASON] = {"Reason", "Причина"},
	[I18N_REUSE] = {"REUSE: this code has just passed on another lane",
			"ПОВТОР: этот код только что прошёл на другом проходе"},
	[I18N_NO_CHECK] = {"No visitor waiting", "Посетителя нет"},
	[I18N_CHECKING] = {"CHECKING...", "ПРОВЕРКА..."},
	[I18N_HINT_VALID] = {"Compare with the passport: c = let in, r = refuse",
			     "Сверьте с паспортом: c — пропустить, r — отказать"},
	[I18N_HINT_DENIED] = {"Do not let this visitor in", "Не пропускать"},
	[I18N_HINT_OPEN] = {"The turnstile is open: the visitor may pass",
			    "Турникет открыт: посетитель может пройти"},
	[I18N_KEYS] = {"c/Enter: let in  r/Bksp: refuse  o: open  m: mode  s: stop  Tab: lane  q: quit",
		       "c/Enter: пропустить  r/Bksp: отказать  o: открыть  m: режим  s: стоп  q: выход"},
	[I18N_STATUS_OK] = {"Connected", "Связь есть"},
	[I18N_STATUS_IO_FAULT] = {"IO FAULT: the turnstile does not answer, nothing opens",
				  "НЕИСПРАВНОСТЬ: турникет не отвечает, ничего не откроется"},
	[I18N_STATUS_EMERGENCY] = {"EMERGENCY: fire alarm, both directions are open",
				   "ПОЖАРНАЯ ТРЕВОГА: оба направления открыты"},
	[I18N_STATUS_PORTAL] = {"PORTAL UNREACHABLE: Gosuslugi cannot verify now",
				"ГОСУСЛУГИ НЕДОСТУПНЫ: проверить сертификат нельзя"},
	[I18N_STATUS_NO_DAEMON] = {"DAEMON NOT REACHABLE: reconnecting...",
				   "НЕТ СВЯЗИ СО СЛУЖБОЙ: переподключение..."},
	[I18N_STATUS_LOCKED] = {"LANE LOCKED: nobody passes", "ПРОХОД ЗАКРЫТ: никто не пройдёт"},
	[I18N_STATUS_STOPPED] = {"STOP: the lane is blocked, s = release",
				 "СТОП: проход заблокирован, s — снять"},
	[I18N_MSG_CONFIRMED] = {"Confirmed: let the visitor pass", "Подтверждено: пропустите"},
	[I18N_MSG_REJECTED] = {"Rejected", "Отказано"},
	[I18N_MSG_STALE] = {"REFUSED: that check is no longer pending (stale request)",
			    "НЕ ПРИНЯТО: эта проверка уже неактуальна (устаревший запрос)"},
	[I18N_MSG_NOTHING] = {"Nothing is waiting for a decision", "Решение сейчас не требуется"},
	[I18N_MSG_FAILED] = {"Failed", "Ошибка"},
	[I18N_MSG_OPENED] = {"Opened manually", "Открыто вручную"},
	[I18N_MSG_REASON_EMPTY] = {"A reason is required", "Нужно указать причину"},
	[I18N_MSG_MODE_SET] = {"Mode changed", "Режим изменён"},
	[I18N_MSG_MODE_DEFERRED] = {"Mode changes when the lane is idle",
				    "Режим сменится, когда проход освободится"},
	[I18N_MSG_STOPPED] = {"Stopped: nobody passes", "Стоп: никто не пройдёт"},
	[I18N_MSG_STOP_CLEARED] = {"Stop released", "Стоп снят"},
	[I18N_MSG_CANCELLED] = {"Cancelled", "Отменено"},
	[I18N_MSG_RECONNECTED] = {"Connection restored", "Связь восстановлена"},
	[I18N_PROMPT_DIR] = {"Open which way? a = entry, b = exit, Esc = cancel",
			     "Куда открыть? a — вход, b — выход, Esc — отмена"},
	[I18N_PROMPT_REASON] = {"Reason (Enter = open, Esc = cancel): ",
				"Причина (Enter — открыть, Esc — отмена): "},
	[I18N_PROMPT_MODE] = {"Mode: 1 normal 2 free 3 free entry 4 free exit 5 locked, Esc",
			      "Режим: 1 обычный 2 свободный 3 вход 4 выход 5 закрыт, Esc"},
	[I18N_TOO_SMALL] = {"Terminal too small", "Окно слишком мало"},
	[I18N_NO_LANE] = {"No such lane", "Нет такого прохода"},
};

static const struct {
	const char *key;
	const char *text[I18N_LANG_COUNT];
} i18n_words[] = {
	/* lane states */
	{"idle", {"waiting for a code", "ожидание кода"}},
	{"verifying", {"checking", "проверка"}},
	{"await_attendant", {"WAITING FOR YOU", "ЖДЁТ РЕШЕНИЯ"}},
	{"open", {"open", "открыто"}},
	{"passing", {"passing", "проход"}},
	{"denied", {"denied", "отказ"}},
	{"free", {"free passage", "свободный проход"}},
	{"blocked", {"locked", "закрыт"}},
	{"emergency", {"EMERGENCY", "ТРЕВОГА"}},
	{"io_fault", {"IO FAULT", "НЕИСПРАВНОСТЬ"}},
	/* verdicts */
	{"valid", {"VALID", "ДЕЙСТВИТЕЛЕН"}},
	{"invalid", {"INVALID", "НЕДЕЙСТВИТЕЛЕН"}},
	{"expired", {"EXPIRED", "СРОК ИСТЁК"}},
	{"not_found", {"NOT FOUND", "НЕ НАЙДЕН"}},
	{"cancelled", {"CANCELLED", "АННУЛИРОВАН"}},
	{"unavailable", {"CANNOT VERIFY", "ПРОВЕРКА НЕВОЗМОЖНА"}},
	{"forged", {"FORGED", "ПОДДЕЛКА"}},
	{"unknown", {"UNKNOWN CODE", "НЕИЗВЕСТНЫЙ КОД"}},
	{"used", {"ALREADY USED", "УЖЕ ИСПОЛЬЗОВАН"}},
	/* modes */
	{"normal", {"normal", "обычный"}},
	{"free-a", {"free entry", "свободный вход"}},
	{"free-b", {"free exit", "свободный выход"}},
	{"locked", {"locked", "закрыт"}},
	/* code kinds */
	{"ticket", {"ticket", "билет"}},
	{"membership", {"membership", "абонемент"}},
	{"gosuslugi", {"Gosuslugi certificate", "сертификат Госуслуг"}},
	{"manual", {"manual", "вручную"}},
};

#define I18N_WORD_COUNT (sizeof(i18n_words) / sizeof(i18n_words[0]))

int i18n_lang_parse(const char *name, enum i18n_lang *out)
{
	if (!name)
		return -EINVAL;
	if (strcasecmp(name, "ru") == 0)
		*out = I18N_RU;
	else if (strcasecmp(name, "en") == 0)
		*out = I18N_EN;
	else
		return -EINVAL;
	return 0;
}

enum i18n_lang i18n_lang_from_locale(const char *lc_all, const char *lc_messages,
				     const char *lang)
{
	const char *v = lc_all && lc_all[0] ? lc_all : lc_messages && lc_messages[0] ? lc_messages
											: lang;

	if (v && strncasecmp(v, "ru", 2) == 0)
		return I18N_RU;
	return I18N_EN;
}

const char *i18n_text(enum i18n_lang lang, enum i18n_msg msg)
{
	const char *t;

	if ((unsigned)msg >= I18N_MSG_COUNT)
		return "";
	if ((unsigned)lang >= I18N_LANG_COUNT)
		lang = I18N_EN;
	t = i18n_messages[msg][lang];
	return t ? t : "";
}

const char *i18n_word(enum i18n_lang lang, const char *word)
{
	if (!word)
		return "";
	if ((unsigned)lang >= I18N_LANG_COUNT)
		lang = I18N_EN;
	for (size_t i = 0; i < I18N_WORD_COUNT; i++)
		if (strcmp(i18n_words[i].key, word) == 0)
			return i18n_words[i].text[lang];
	return word;
}

unsigned i18n_word_count(void)
{
	return (unsigned)I18N_WORD_COUNT;
}

const char *i18n_word_key(unsigned i)
{
	return i < I18N_WORD_COUNT ? i18n_words[i].key : NULL;
}
