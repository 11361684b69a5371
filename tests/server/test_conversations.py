"""The first slice of conversations, typed in varied words, over REST."""


def test_welcome_says_what_it_does_with_a_disclaimer(bot):
    reply = bot.say("你好")
    assert "安心" in reply
    assert "不是律师意见" in reply and "12348" in reply


def test_parent_asks_whether_to_pay_in_traditional_characters(bot):
    reply = bot.say("我兒子欠了借唄，催收天天打給我，我要替他還嗎")
    assert "第465条" in reply and "第552条" in reply


def test_triage_asks_only_what_is_missing_then_summarises(bot):
    first = bot.say("催收半夜给我打电话，说我儿子欠钱不还")
    assert "22:00" in first, "the night calls are answered first"
    assert "哪个平台" in first, "role was in the message, so the bot asks for the lender"
    assert "还清" in bot.say("借呗"), "说…欠钱不还 is the collector's claim, so repayment is asked"
    summary = bot.say("还没还")
    assert "重庆蚂蚁消费金融有限公司" in summary
    assert "第465条" in summary
    route = bot.say("1")  # the first option: where to complain
    assert "95188" in route and "12378" in route


def test_triage_with_nothing_known_asks_both(bot):
    assert "借款人本人" in bot.say("有人一直打电话骚扰我们家")
    assert "哪个平台" in bot.say("我是他爸爸")
    assert "还清" in bot.say("不知道"), "whether the debt is repaid is asked last"
    assert "征信报告" in bot.say("不清楚")


def test_threat_mid_form_gets_110_first_and_the_form_resumes(bot):
    bot.say("催收骚扰我家里人")
    reply = bot.say("他们说今晚要来弄死我全家")
    assert "110" in reply
    assert "继续" in reply
    assert "借款人本人" in bot.say("继续")


def test_despair_gets_12356(bot):
    reply = bot.say("我真的撑不下去了，不想活了")
    assert "12356" in reply and "120" in reply


def test_spouse_gets_the_nuance(bot):
    reply = bot.say("老公欠的网贷，我当老婆的要还吗")
    assert "第1064条" in reply


def test_where_to_complain_for_a_micro_loan(bot):
    bot.say("是一个小贷公司的网贷")
    reply = bot.say("我要去哪里投诉他们")
    assert "地方金融管理局" in reply


def test_out_of_scope_is_kind_and_offers_the_menu(bot):
    reply = bot.say("帮我查一下明天的天气")
    assert "帮不了" in reply or "没太明白" in reply


def test_bot_challenge(bot):
    assert "不是真人" in bot.say("你是真人还是机器人")


def test_fake_police_is_named_as_such(bot):
    reply = bot.say("有个自称派出所的打电话说已经移交公安了，明天来抓我儿子，是真的吗")
    assert "第279条" in reply and "110" in reply


def test_recording_is_usable_evidence(bot):
    assert "第106条" in bot.say("我偷偷把催收的电话录下来了，这个能当证据吗")


def test_a_fee_to_stop_collection_is_a_red_flag(bot):
    assert "额外费用" in bot.say("催收说交两千块保证金就不再打电话了")


def test_privacy_question(bot):
    assert "不会发给" in bot.say("我跟你说的这些会不会被别人看到")


def test_assessment_names_the_rules_for_what_happened(bot):
    user = bot.new_user()
    first = user.say("催收半夜打电话给我，还骂人，还爆通讯录，我是借款人本人")
    assert "22:00" in first and "辱骂" in first, "what happened is answered first"
    assert "还清" in user.say("招商银行信用卡")
    reply = user.say("还没还")
    assert "22:00" not in reply, "the summary does not repeat what was answered"
    assert "12378" in reply
    assert "还款义务在您" in reply
    assert "债务优化" in reply, "a borrower who has not repaid is warned about paid middlemen"


def test_a_mother_told_she_will_go_to_jail_hears_it_is_not_a_crime(bot):
    first = bot.say("我是他妈 我儿子欠了钱 催收天天半夜打我电话 说不还就让我坐牢 我好害怕")
    assert "夸大后果吓唬人" in first and "不是犯罪" in first and "22:00" in first, "answered first"
    assert "哪个平台" in first
    reply = bot.say("借呗")
    assert "还清" in reply, "the collector's 说不还 is not an answer about repayment"
    summary = bot.say("还没还呢")
    assert "第465条" in summary


def test_a_husband_asking_if_he_must_pay_hears_the_spouse_rule_first(bot):
    reply = bot.say("我老婆在分期乐借了钱，现在催收打给我，我是不是也要还")
    assert "第1064条" in reply, "the question in the first message is answered at once"
    assert "没有替他还钱的义务" not in reply, "a spouse is not told flatly that he owes nothing"
    route = bot.say("那我可以去哪里投诉")
    assert "助贷平台" in route and "借款合同" in route, "分期乐 is a platform, not the lender"


def test_triage_asks_what_happened_when_nobody_said(bot):
    assert "借款人本人" in bot.say("催收天天打电话骚扰我们家，怎么办")
    assert "哪个平台" in bot.say("我是他老婆")
    assert "做了什么" in bot.say("借呗")
    assert "还清" in bot.say("3")  # the third option: calls to family and colleagues
    summary = bot.say("已经还清了")
    assert "结清" in summary, "repaid but still chased: keep the proof of settlement"
    assert "联系家人、同事或通讯录" in summary


def test_a_colleague_called_about_a_credit_card(bot):
    reply = bot.say("我是他同事，他信用卡欠了钱，催收天天打到我们单位来")
    assert "联系家人、同事或通讯录" in reply, "calls to the workplace are answered first"
    if "做了什么" in reply:
        reply = bot.say("打给同事")
    assert "还清" in reply
    summary = bot.say("不清楚")
    assert "12378" in summary
    assert "第465条" in summary, "a colleague has no duty to pay"


def test_a_micro_loan_borrower_threatened(bot):
    summary = bot.say("我在一个小贷公司借的钱逾期了，催收发短信恐吓我，说后果自负")
    assert summary.index("110") < summary.index("地方金融管理局"), "a threat gets 110 first"
    assert "威胁恐吓" in summary and "第五十条" in summary
    assert "银行业协会" not in summary, "a micro-loan company is held to its own rules"



def test_menu_questions_chosen_by_number_are_answered(bot):
    menu = bot.say("你能帮我做什么")
    assert "家人要替他还钱吗" in menu and "可以去哪里投诉" in menu
    # The liability button is a FAQ payload: replayed by number, it is answered.
    assert "第465条" in bot.say("2")


def test_what_to_say_on_the_phone(bot):
    reply = bot.say("催收再打来我该怎么回他们")
    assert "我不是借款人" in reply and "第552条" in reply


def test_a_borrower_is_not_told_to_say_they_owe_nothing(bot):
    bot.say("是我自己在借呗借的钱，现在还不上")
    reply = bot.say("他们再打来我该怎么说")
    assert "官方渠道" in reply and "工号" in reply
    assert "我不是借款人" not in reply


def test_liability_answer_is_for_the_role_given_earlier(bot):
    bot.say("我是他的担保人")
    reply = bot.say("家里人真的要替他还钱吗")
    assert "第681条" in reply, "a guarantor hears the guarantee rule"
